"""Same-rows comparison: every model and ensemble of a horizon scored on the test decisions that all
of them predicted, so an ensemble that could stack only part of the clock is not ranked against
bases scored on all of it."""

from __future__ import annotations

from collections import defaultdict

import polars as pl

from mlfactory.data.instruments import Instrument
from mlfactory.evaluation.classification_metrics import classification_metrics
from mlfactory.evaluation.comparison import common_rows
from mlfactory.evaluation.report.artifacts import EvaluatedModel, RunArtifacts
from mlfactory.evaluation.report.html import Section, heading, paragraph, table, unavailable
from mlfactory.evaluation.report.sections_cv import decision_outcomes
from mlfactory.evaluation.trials import decision_net_returns

PROBA = ("p_short", "p_neutral", "p_long")
COLUMNS = (
    "name",
    "kind",
    "rows used",
    "own rows",
    "log loss",
    "balanced acc.",
    "macro F1",
    "Sharpe / decision (net)",
)


def same_rows_section(run: RunArtifacts) -> Section:
    title = "Same-rows comparison (test split)"
    by_horizon: dict[int, list[EvaluatedModel]] = defaultdict(list)
    for m in run.models:
        h = m.section("horizon")
        if isinstance(h, int) and m.predictions is not None and m.predictions.height:
            by_horizon[h].append(m)
    body = ""
    for h, models in sorted(by_horizon.items()):
        if len(models) >= 2:
            body += heading(3, f"horizon h{h}") + _horizon_table(run, h, models)
    if not body:
        return Section("same_rows", title, unavailable("two or more models with test predictions"), False)
    note = paragraph(
        "Each model restricted to the test decisions every model of the horizon predicted; "
        "'own rows' is how many it predicted on its own. Sharpe per decision, net of costs.",
        "meta",
    )
    return Section("same_rows", title, note + body, True)


def _horizon_table(run: RunArtifacts, horizon: int, models: list[EvaluatedModel]) -> str:
    preds = common_rows({m.name: m.predictions for m in models})  # type: ignore[misc]
    n_common = next(iter(preds.values())).height
    if n_common == 0:
        return unavailable(f"test decisions shared by the h{horizon} models")
    outcomes = decision_outcomes(run.root, horizon)
    instrument = (
        Instrument.model_validate(run.manifest["instrument"]) if "instrument" in run.manifest else None
    )
    rows = []
    for m in models:
        frame = preds[m.name]
        proba = frame.select(PROBA).to_numpy()
        cls = classification_metrics(frame["label"].to_numpy(), proba)
        rows.append(
            [m.name, m.kind, n_common, m.predictions.height, cls["log_loss"], cls["balanced_accuracy"],  # type: ignore[union-attr]
             cls["macro_f1"], _sharpe(frame, outcomes, instrument)]
        )  # fmt: skip
    return table(list(COLUMNS), rows)


def _sharpe(
    frame: pl.DataFrame, outcomes: pl.DataFrame | None, instrument: Instrument | None
) -> float | None:
    if outcomes is None or instrument is None:
        return None
    joined = frame.join(outcomes.select("timestamp", "ret", "entry_price"), on="timestamp", how="inner")
    if joined.height != frame.height or joined.height < 2:
        return None
    r = decision_net_returns(
        joined.select(PROBA).to_numpy(),
        joined["ret"].to_numpy(),
        joined["entry_price"].to_numpy(),
        instrument,
    )
    std = r.std(ddof=1)
    return float(r.mean() / std) if std > 0 else 0.0
