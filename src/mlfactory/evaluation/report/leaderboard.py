"""One table of every model and ensemble across the runs under a directory, sorted by a chosen metric.

Rows are grouped by (symbol, timeframe, horizon) — the timeframe is the model's, else the run's decision
clock, as in the tracking tags: models of different instruments, clocks
or label horizons are not ranked against each other. Groups come in sorted order; within a group,
each metric has a direction: ``lower`` is better for losses and drawdowns (log loss, Brier, max
drawdown, PBO), ``higher`` for the rest. Rows whose metric is missing or NaN sort last in their
group; ties keep the order of (run, kind, name). The deflated Sharpe of a model in the run's trial registry is
recomputed against every trial recorded there. Each row shows the Sharpe with its standard error
and bootstrap interval, the coverage of its split (rows used ÷ rows on the clock) and its
thin-evidence warnings. Only ``manifest.json``, ``splits.json``, ``trials.jsonl`` and ``metrics.json`` are read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from mlfactory.errors import ArtifactError, ConfigError
from mlfactory.evaluation.report.artifacts import dig, load_metrics, overfitting_headline, redeflate_metrics
from mlfactory.evaluation.sharpe_intervals import format_sharpe
from mlfactory.evaluation.trials import read_trials
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
GROUP_COLUMNS = ("symbol", "timeframe", "horizon")
TEXT_COLUMNS = (*GROUP_COLUMNS, "run", "kind", "name", "family")
EXTRA_COLUMNS = ("sharpe_interval", "coverage", "warnings")


@dataclass(frozen=True)
class Leaderboard:
    metric: str
    split: str
    direction: Direction
    runs: list[Path]
    rows: list[
        dict[str, Any]
    ]  # by group, best first; keys: TEXT_COLUMNS, "value", SHOWN_METRICS, EXTRA_COLUMNS

    @property
    def columns(self) -> list[str]:
        return [*TEXT_COLUMNS, self.metric, *(m for m in SHOWN_METRICS if m != self.metric), *EXTRA_COLUMNS]

    def to_json(self) -> dict[str, Any]:
        """Strict JSON: NaN becomes null, ±inf the strings ``"inf"`` / ``"-inf"``."""
        return {
            "metric": self.metric,
            "split": self.split,
            "direction": self.direction,
            "runs": [str(r) for r in self.runs],
            "group_by": list(GROUP_COLUMNS),
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
        facts = run_facts(run)
        trials = read_trials(run)
        for kind, sub in (("model", "models"), ("ensemble", "ensembles")):
            directory = run / sub
            if not directory.is_dir():
                continue
            for d in current_only(run, sorted(p for p in directory.iterdir() if p.is_dir()))[0]:
                metrics = load_metrics(d / "metrics.json")
                redeflate_metrics(metrics, f"{sub}/{d.name}", trials)
                if metrics is not None:
                    rows.append(_row(_relative(run, root), kind, d.name, metrics, metric, split, facts))
    direction = METRIC_DIRECTIONS[metric]
    return Leaderboard(metric, split, direction, runs, sort_rows(rows, direction))


def sort_rows(rows: list[dict[str, Any]], direction: Direction) -> list[dict[str, Any]]:
    """By group (``group_key``), then best ``value`` first; missing/NaN last; stable for ties."""
    values = np.array([np.nan if r["value"] is None else r["value"] for r in rows], dtype=np.float64)
    key = values if direction == "lower" else -values
    groups = sorted({group_key(r) for r in rows})
    group_rank = np.array([groups.index(group_key(r)) for r in rows], dtype=np.int64)
    order = np.lexsort((key, np.isnan(values), group_rank))  # lexsort is stable: ties keep the input order
    return [rows[i] for i in order]


def group_key(row: dict[str, Any]) -> tuple[str, str, int]:
    """(symbol, timeframe, horizon) with missing parts sorting last."""
    horizon = row.get("horizon")
    return (
        str(row.get("symbol") or "~"),
        str(row.get("timeframe") or "~"),
        int(horizon) if isinstance(horizon, int) else 10**9,
    )


def run_facts(run: Path) -> dict[str, Any]:
    """The symbol (manifest) and decision timeframe (splits.json, else the ladder's base) of a run."""
    manifest = load_metrics(run / "manifest.json") or {}
    splits = load_metrics(run / "splits.json") or {}
    timeframe = splits.get("decision_timeframe") or dig(manifest, "config", "ladder", "base_timeframe")
    return {"symbol": manifest.get("symbol"), "timeframe": timeframe}


def _row(
    run: str, kind: str, name: str, metrics: dict[str, Any], metric: str, split: str, facts: dict[str, Any]
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "symbol": facts.get("symbol"),
        "timeframe": metrics.get("timeframe")
        or facts.get("timeframe"),  # the model's, else the decision clock
        "horizon": metrics.get("horizon"),
        "run": run,
        "kind": kind,
        "name": name,
        "family": metrics.get("family") or metrics.get("meta_learner"),
        "value": metric_value(metrics, metric, split),
    }
    for m in SHOWN_METRICS:
        row[m] = row["value"] if m == metric else metric_value(metrics, m, split)
    row[metric] = row["value"]
    row.update(extra_columns(metrics, split))
    return row


def extra_columns(metrics: dict[str, Any], split: str) -> dict[str, Any]:
    """``EXTRA_COLUMNS`` of one metrics record: Sharpe ± SE [CI] text, coverage share, warnings text."""
    strategy = dig(metrics, "trading", split, "strategy")
    warnings = dig(metrics, "trading", split, "warnings")
    return {
        "sharpe_interval": format_sharpe(strategy) if isinstance(strategy, dict) else None,
        "coverage": dig(metrics, "trading", split, "coverage", "share"),
        "warnings": "; ".join(warnings) if isinstance(warnings, list) else None,
    }


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
