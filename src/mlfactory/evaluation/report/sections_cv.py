"""Cross-validation section: per-fold metrics of each model's OOF predictions and, for CPCV, the
distribution of the backtest-path Sharpes next to the run's PBO.

A model's ``oof.parquet`` is matched to the ``RUN/cv/<method>_k<K>_h<H>.json`` of its horizon with
the same number of folds (the latest such file when several match). Sharpes here are per decision
and net of costs (``evaluation.trials``), not annualised.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from mlfactory.data.instruments import Instrument
from mlfactory.evaluation.cv_statistics import cpcv_path_sharpes, fold_metrics, path_sharpe_summary
from mlfactory.evaluation.report.artifacts import (
    EvaluatedModel,
    RunArtifacts,
    overfitting_headline,
    read_parquet,
)
from mlfactory.evaluation.report.figures import figure_html, path_sharpe_figure
from mlfactory.evaluation.report.html import Section, heading, key_value_table, paragraph, table, unavailable

FigureId = Callable[[], str]
_CV_FILE = re.compile(r"^(purged|walk-forward|cpcv)_k(\d+)_h(\d+)$")
_MODEL_DIR = re.compile(r"_h(\d+)$")
OOF_COLUMNS = ("timestamp", "fold", "p_short", "p_neutral", "p_long")
FOLD_COLUMNS = {
    "fold": "fold",
    "rows": "rows",
    "log_loss": "log loss",
    "accuracy": "accuracy",
    "sharpe_per_decision": "Sharpe / decision (net)",
}
UNITS = (
    "Out-of-fold predictions on the training period. Sharpe: per decision (not annualised), of the "
    "argmax side's label return net of the round-trip cost at each entry price."
)


def cross_validation_section(run: RunArtifacts, next_id: FigureId) -> Section:
    title = "Cross-validation"
    body = ""
    for m in run.models:
        oof_path = m.path / "oof.parquet"
        match = _MODEL_DIR.search(m.name)
        if m.kind != "model" or not oof_path.is_file() or match is None:
            continue
        oof = read_parquet(oof_path, OOF_COLUMNS).drop_nans().drop_nulls()  # rows a fold did not predict
        if oof.height == 0:
            body += heading(3, m.label) + unavailable(
                f"out-of-fold predictions of {m.name} (oof.parquet is empty)"
            )
            continue
        cv = _cv_file(run.root, int(match.group(1)), int(oof["fold"].max()) + 1)
        outcomes = decision_outcomes(run.root, int(match.group(1)))
        body += heading(3, f"{m.label}: {cv['method'] if cv else 'unknown method'}")
        body += _fold_table(oof, outcomes, run)
        if cv is not None and cv["method"] == "cpcv" and outcomes is not None:
            body += _paths_part(m, oof, outcomes, cv["k"], run, next_id)
    if not body:
        return Section("cv", title, unavailable("out-of-fold predictions (run `mlfactory cv`)"), False)
    return Section("cv", title, paragraph(UNITS, "meta") + body, True)


def decision_outcomes(root: Path, horizon: int) -> pl.DataFrame | None:
    """``timestamp, label, ret, entry_price`` of the horizon's decisions (entry = the decision bar's close)."""
    labels_path = root / "labels" / f"h{horizon}.parquet"
    splits_path = root / "splits.json"
    if not labels_path.is_file() or not splits_path.is_file():
        return None
    tf = json.loads(splits_path.read_text()).get("decision_timeframe")
    bars_path = root / "data" / f"bars_{tf}.parquet"
    labels = read_parquet(labels_path, ("timestamp", "label"), ("ret",))
    if "ret" not in labels.columns or not bars_path.is_file():
        return None
    bars = read_parquet(bars_path, ("timestamp", "close")).rename({"close": "entry_price"})
    return labels.join(bars, on="timestamp", how="inner").drop_nulls()


def _cv_file(root: Path, horizon: int, n_folds: int) -> dict[str, Any] | None:
    found = []
    for path in (root / "cv").glob("*.json") if (root / "cv").is_dir() else []:
        match = _CV_FILE.match(path.stem)
        if match and int(match.group(3)) == horizon:
            folds = json.loads(path.read_text()).get("folds") or []
            if len(folds) == n_folds:
                found.append((path.stat().st_mtime, path.name, match.group(1), int(match.group(2))))
    if not found:
        return None
    _, name, method, k = max(found)
    return {"file": name, "method": method, "k": k}


def _instrument(run: RunArtifacts) -> Instrument:
    return Instrument.model_validate(run.manifest["instrument"])


def _fold_table(oof: pl.DataFrame, outcomes: pl.DataFrame | None, run: RunArtifacts) -> str:
    if outcomes is None:
        return unavailable("label returns or bars for the per-fold metrics")
    rows = [[f[k] for k in FOLD_COLUMNS] for f in fold_metrics(oof, outcomes, _instrument(run))]
    return table(list(FOLD_COLUMNS.values()), rows)


def _paths_part(
    m: EvaluatedModel,
    oof: pl.DataFrame,
    outcomes: pl.DataFrame,
    n_groups: int,
    run: RunArtifacts,
    next_id: FigureId,
) -> str:
    sharpes = cpcv_path_sharpes(oof, outcomes, n_groups, _instrument(run))
    summary = path_sharpe_summary(sharpes)
    pbos = [
        (f"PBO of {e.name}", overfitting_headline(e.metrics, "pbo"))
        for e in run.models
        if e.kind == "ensemble" and e.section("horizon") == m.section("horizon")
    ]
    out = paragraph(f"CPCV backtest paths ({summary['n_paths']}): per-decision net Sharpe of each", "meta")
    out += key_value_table([*summary.items(), *pbos])
    fig = path_sharpe_figure(np.asarray(sharpes), f"{m.label}: CPCV path Sharpes")
    return out + figure_html(fig, next_id(), toolbar=False)
