"""One table of every model and ensemble across the runs under a directory, sorted by a chosen metric.

Each metric has a direction: ``lower`` is better for losses and drawdowns (log loss, Brier, max
drawdown, PBO), ``higher`` for the rest. Rows whose metric is missing or NaN sort last; ties keep
the order of (run, kind, name). Only ``metrics.json`` files are read, never predictions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from mlfactory.errors import ArtifactError, ConfigError
from mlfactory.evaluation.report.artifacts import dig, load_metrics, overfitting_headline
from mlfactory.run_dir import current_only

Direction = Literal["lower", "higher"]
SPLITS = ("test", "val")
CLASSIFICATION_METRICS: dict[str, Direction] = {
    "log_loss": "lower",
    "brier": "lower",
    "accuracy": "higher",
    "balanced_accuracy": "higher",
    "macro_f1": "higher",
}
TRADING_METRICS: dict[str, Direction] = {
    "sharpe": "higher",
    "sortino": "higher",
    "calmar": "higher",
    "annualised_return": "higher",
    "total_return": "higher",
    "total_pnl_currency": "higher",
    "win_rate": "higher",
    "profit_factor": "higher",
    "average_trade_currency": "higher",
    "max_drawdown": "lower",
    "max_drawdown_currency": "lower",
    "max_drawdown_duration_days": "lower",
}
OVERFITTING_METRICS: dict[str, Direction] = {"deflated_sharpe": "higher", "pbo": "lower"}
METRIC_DIRECTIONS: dict[str, Direction] = CLASSIFICATION_METRICS | TRADING_METRICS | OVERFITTING_METRICS
DEFAULT_METRIC = "log_loss"
SHOWN_METRICS = (
    "log_loss",
    "balanced_accuracy",
    "macro_f1",
    "sharpe",
    "max_drawdown_currency",
    "deflated_sharpe",
)
TEXT_COLUMNS = ("run", "kind", "name", "horizon", "family", "timeframe")


@dataclass(frozen=True)
class Leaderboard:
    metric: str
    split: str
    direction: Direction
    runs: list[Path]
    rows: list[dict[str, Any]]  # best first; keys: TEXT_COLUMNS, "value", then SHOWN_METRICS

    @property
    def columns(self) -> list[str]:
        return [*TEXT_COLUMNS, self.metric, *(m for m in SHOWN_METRICS if m != self.metric)]

    def to_json(self) -> dict[str, Any]:
        """Strict JSON: NaN becomes null, ±inf the strings ``"inf"`` / ``"-inf"``."""
        return {
            "metric": self.metric,
            "split": self.split,
            "direction": self.direction,
            "runs": [str(r) for r in self.runs],
            "rows": [{k: _json_value(v) for k, v in row.items()} for row in self.rows],
        }


def metric_value(metrics: dict[str, Any], metric: str, split: str) -> float | None:
    """The value of ``metric`` on ``split`` in one metrics.json, ``None`` when absent."""
    if metric in CLASSIFICATION_METRICS:
        node = dig(metrics, "classification", split, "model", metric)
    elif metric in TRADING_METRICS:
        node = dig(metrics, "trading", split, "strategy", metric)
    elif metric in OVERFITTING_METRICS:
        node = overfitting_headline(metrics, metric)
    else:
        raise ConfigError(_unknown_metric(metric))
    if isinstance(node, bool) or not isinstance(node, int | float):
        return None
    return float(node)


def find_runs(runs_dir: Path) -> list[Path]:
    """Run directories (holding manifest.json) at or below ``runs_dir``, outermost only, sorted."""
    root = Path(runs_dir)
    if not root.is_dir():
        raise ArtifactError(f"{root}: no such directory; pass a directory that holds run directories")
    found: list[Path] = []
    for manifest in sorted(root.rglob("manifest.json")):
        run = manifest.parent
        if not any(run.is_relative_to(r) for r in found):
            found.append(run)
    if not found:
        raise ArtifactError(
            f"{root}: no run directories below it (none holds manifest.json); create one with "
            "`mlfactory pipeline run` or `mlfactory demo`"
        )
    return found


def build_leaderboard(runs_dir: Path, metric: str = DEFAULT_METRIC, split: str = "test") -> Leaderboard:
    """Every model and ensemble of every run under ``runs_dir``, best ``metric`` on ``split`` first."""
    if metric not in METRIC_DIRECTIONS:
        raise ConfigError(_unknown_metric(metric))
    if split not in SPLITS:
        raise ConfigError(f"--split {split!r}: unknown split; use one of {', '.join(SPLITS)}")
    root = Path(runs_dir)
    runs = find_runs(root)
    rows = []
    for run in runs:
        for kind, sub in (("model", "models"), ("ensemble", "ensembles")):
            directory = run / sub
            if not directory.is_dir():
                continue
            for d in current_only(run, sorted(p for p in directory.iterdir() if p.is_dir()))[0]:
                metrics = load_metrics(d / "metrics.json")
                if metrics is not None:
                    rows.append(_row(_relative(run, root), kind, d.name, metrics, metric, split))
    direction = METRIC_DIRECTIONS[metric]
    return Leaderboard(metric, split, direction, runs, sort_rows(rows, direction))


def sort_rows(rows: list[dict[str, Any]], direction: Direction) -> list[dict[str, Any]]:
    """Best ``value`` first; missing/NaN last; stable for ties."""
    values = np.array([np.nan if r["value"] is None else r["value"] for r in rows], dtype=np.float64)
    key = values if direction == "lower" else -values
    order = np.lexsort((key, np.isnan(values)))  # lexsort is stable: ties keep the input order
    return [rows[i] for i in order]


def _row(run: str, kind: str, name: str, metrics: dict[str, Any], metric: str, split: str) -> dict[str, Any]:
    row: dict[str, Any] = {
        "run": run,
        "kind": kind,
        "name": name,
        "horizon": metrics.get("horizon"),
        "family": metrics.get("family") or metrics.get("meta_learner"),
        "timeframe": metrics.get("timeframe"),
        "value": metric_value(metrics, metric, split),
    }
    for m in SHOWN_METRICS:
        row[m] = row["value"] if m == metric else metric_value(metrics, m, split)
    row[metric] = row["value"]
    return row


def _relative(run: Path, root: Path) -> str:
    rel = run.relative_to(root)
    return str(rel) if str(rel) != "." else run.name


def _unknown_metric(metric: str) -> str:
    known = ", ".join(f"{m} ({d} is better)" for m, d in METRIC_DIRECTIONS.items())
    return f"--metric {metric!r}: unknown metric; choose one of {known}"


def _json_value(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v
