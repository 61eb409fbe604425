"""Read what a run directory holds for the report: manifest, labels, models and ensembles.

A *missing* artifact is normal (a run that stopped after the data stage has no models) and is
returned as ``None`` / an empty collection, so the report can say "not available in this run". An
artifact that is *present but unreadable* (broken JSON, a parquet file without its required
columns) raises ``ArtifactError`` naming the file: the report never hides a corrupt run.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl

from mlfactory.errors import ArtifactError, DataError
from mlfactory.evaluation.metrics_schema import parse_metrics
from mlfactory.evaluation.positions import check_probabilities
from mlfactory.evaluation.trials import Trial, deflated_sharpe_in_run, read_trials
from mlfactory.run_dir import RunDir, current_only

PREDICTION_COLUMNS = ("timestamp", "label", "p_short", "p_neutral", "p_long")
EQUITY_COLUMNS = ("timestamp", "equity_currency")
EQUITY_OPTIONAL = ("drawdown_currency", "buy_and_hold_equity")
LABEL_COLUMNS = ("timestamp", "label")
LABEL_OPTIONAL = ("barrier",)
_HORIZON_FILE = re.compile(r"^h(\d+)$")

Kind = Literal["model", "ensemble"]


@dataclass(frozen=True)
class EvaluatedModel:
    """One ``models/<name>_h<H>/`` or ``ensembles/<id>/`` directory and what it holds."""

    kind: Kind
    name: str  # the directory name: unique within its kind
    path: Path
    metrics: dict[str, Any] | None
    predictions: pl.DataFrame | None  # predictions_test.parquet
    equity: pl.DataFrame | None  # equity_test.parquet

    @property
    def label(self) -> str:
        return self.name if self.kind == "model" else f"{self.name} (ensemble)"

    def section(self, *keys: str) -> Any:
        """``metrics[k1][k2]...`` or ``None`` when any level is missing."""
        return dig(self.metrics, *keys)


@dataclass(frozen=True)
class RunArtifacts:
    root: Path
    manifest: dict[str, Any]
    labels: dict[int, pl.DataFrame]  # horizon → labels frame (label and, when present, barrier)
    models: list[EvaluatedModel]  # single models first, then ensembles, each sorted by name
    trials: dict[str, Trial]  # the run's trial registry (trials.jsonl), by id

    @property
    def symbol(self) -> str:
        return str(self.manifest.get("symbol") or "unknown symbol")


def dig(node: Any, *keys: str) -> Any:
    """``node[k1][k2]...`` or ``None`` when any level is missing or not a mapping."""
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def overfitting_headline(metrics: dict[str, Any] | None, stat: str) -> float | None:
    """The deflated Sharpe (``deflated_sharpe``) or PBO (``pbo``) of a metrics record, ``None`` when absent."""
    if metrics is None:
        return None
    record = parse_metrics(metrics, "metrics.json")
    return record.dsr if stat == "deflated_sharpe" else record.pbo


def load_run(root: Path) -> RunArtifacts:
    """Everything the report reads from ``root``; ``ArtifactError`` when ``root`` is not a run directory."""
    run = RunDir(Path(root))
    if not run.root.is_dir():
        raise ArtifactError(f"{run.root}: no such directory; pass a run directory (it holds manifest.json)")
    manifest = run.require()
    trials = read_trials(run.root)
    models = _load_kind(run.root / "models", "model") + _load_kind(run.root / "ensembles", "ensemble")
    for m in models:
        redeflate(m, trials)
    return RunArtifacts(
        root=run.root,
        manifest=manifest,
        labels=load_labels(run.root / "labels"),
        models=models,
        trials=trials,
    )


def redeflate(m: EvaluatedModel, trials: dict[str, Trial]) -> None:
    """Replace a model's training-time deflated Sharpe by the one against every trial now in the
    registry, so every model is deflated by the same count whatever the training order."""
    redeflate_metrics(m.metrics, f"{m.path.parent.name}/{m.name}", trials)


def redeflate_metrics(metrics: dict[str, Any] | None, trial_id: str, trials: dict[str, Trial]) -> None:
    """``redeflate`` on a metrics dict whose registry id is ``trial_id`` (no change when not registered)."""
    if metrics is None or trial_id not in trials:
        return
    dsr = deflated_sharpe_in_run(trials, trial_id)
    metrics.setdefault("overfitting", {}).update({"dsr": dsr["dsr"], "deflated_sharpe": dsr})
    test = dig(metrics, "trading", "test")
    if isinstance(test, dict):
        test["deflated_sharpe"] = dsr


def overfitting_display(metrics: dict[str, Any] | None, stat: str) -> float | str | None:
    """The headline number, or the reason it is absent (e.g. "n/a, 1 trial") when the metrics give one."""
    value = overfitting_headline(metrics, stat)
    if value is not None:
        return value
    reason = dig(metrics, "overfitting", stat, "display")
    return reason if isinstance(reason, str) else None


def load_labels(directory: Path) -> dict[int, pl.DataFrame]:
    out: dict[int, pl.DataFrame] = {}
    if not directory.is_dir():
        return out
    for path in directory.glob("h*.parquet"):
        match = _HORIZON_FILE.match(path.stem)
        if match:
            out[int(match.group(1))] = read_parquet(path, LABEL_COLUMNS, LABEL_OPTIONAL)
    return dict(sorted(out.items()))


def load_metrics(path: Path) -> dict[str, Any] | None:
    """A metrics.json (NaN / Infinity allowed), ``None`` when absent."""
    if not path.is_file():
        return None
    try:
        obj = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{path}: not valid JSON ({exc}); rerun the step that wrote it") from exc
    if not isinstance(obj, dict):
        raise ArtifactError(f"{path}: expected a JSON object of metrics, got {type(obj).__name__}")
    return obj


def read_parquet(path: Path, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> pl.DataFrame:
    """The required (and any present optional) columns of a parquet file, sorted by timestamp."""
    try:
        schema = pl.read_parquet_schema(path)
    except Exception as exc:  # polars raises several error types for a damaged file
        raise ArtifactError(
            f"{path}: not a readable parquet file ({exc}); rerun the step that wrote it"
        ) from exc
    missing = [c for c in required if c not in schema]
    if missing:
        raise ArtifactError(
            f"{path}: missing column(s) {', '.join(missing)} (has {', '.join(schema)}); "
            "rerun the step that wrote it with this version of mlfactory"
        )
    columns = list(required) + [c for c in optional if c in schema]
    return pl.read_parquet(path, columns=columns).sort("timestamp")


def read_predictions(path: Path) -> pl.DataFrame:
    """predictions_test.parquet, checked: labels in {-1, 0, 1} and rows of valid class probabilities."""
    frame = read_parquet(path, PREDICTION_COLUMNS)
    labels = frame["label"].to_numpy()
    if frame["label"].null_count() or not np.isin(labels, (-1, 0, 1)).all():
        raise ArtifactError(f"{path}: column label must hold -1, 0 or 1 on every row; rerun the evaluation")
    try:
        check_probabilities(frame.select(PREDICTION_COLUMNS[2:]).to_numpy(), name=str(path))
    except DataError as exc:
        raise ArtifactError(f"{exc}; rerun the evaluation that wrote it") from exc
    return frame


def _load_kind(directory: Path, kind: Kind) -> list[EvaluatedModel]:
    if not directory.is_dir():
        return []
    out = []
    for sub in current_only(directory.parent, sorted(p for p in directory.iterdir() if p.is_dir()))[0]:
        pred_path, eq_path = sub / "predictions_test.parquet", sub / "equity_test.parquet"
        out.append(
            EvaluatedModel(
                kind=kind,
                name=sub.name,
                path=sub,
                metrics=load_metrics(sub / "metrics.json"),
                predictions=read_predictions(pred_path) if pred_path.is_file() else None,
                equity=read_parquet(eq_path, EQUITY_COLUMNS, EQUITY_OPTIONAL) if eq_path.is_file() else None,
            )
        )
    return out
