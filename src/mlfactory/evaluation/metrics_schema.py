"""The one schema of ``metrics.json`` — written by `train` and `train-ensemble`, read by the CLI
summaries, the report, the leaderboard and tracking.

The per-split blocks (``classification``, ``trading``, ``signal``) are the evaluation reports
keyed by split (``val``, ``test``); their inner keys are documented where they are computed
(``evaluation.classification_metrics``, ``evaluation.trading_metrics``, ``evaluation.signal_metrics``).
Headline numbers have one typed accessor each, so no reader guesses among key spellings.
Non-finite numbers are written as ``null`` (strict JSON).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from mlfactory.errors import ArtifactError, validation_summary

METRICS_FILE = "metrics.json"
SCHEMA_VERSION = 1


class Overfitting(BaseModel):
    """Deflated Sharpe of the test split (against every configuration tried) and, for ensembles, PBO."""

    model_config = ConfigDict(extra="allow")
    dsr: float | None = None
    deflated_sharpe: dict[str, Any] = {}
    pbo: dict[str, Any] | None = None


class MetricsRecord(BaseModel):
    model_config = ConfigDict(extra="allow")

    schema_version: Literal[1] = SCHEMA_VERSION
    kind: Literal["model", "ensemble", "backtest"]
    model: str  # the model name, or the ensemble id
    horizon: int
    family: str
    seed: int
    timeframe: str | None = None
    feature_set: str | None = None
    classification: dict[str, dict[str, Any]]
    trading: dict[str, dict[str, Any]]
    signal: dict[str, dict[str, Any]] = {}
    overfitting: Overfitting = Overfitting()
    generation: str | None = None  # the run generation (data + config hash) it was built from

    @property
    def dsr(self) -> float | None:
        return self.overfitting.dsr

    @property
    def pbo(self) -> float | None:
        return None if self.overfitting.pbo is None else _number(self.overfitting.pbo.get("pbo"))

    def log_loss(self, split: str) -> float | None:
        return _number(self.classification.get(split, {}).get("model", {}).get("log_loss"))

    def strategy(self, split: str) -> dict[str, Any]:
        return self.trading.get(split, {}).get("strategy", {})

    def headline(self, split: str) -> dict[str, Any]:
        """What the CLI prints for a split: log loss vs prior, balanced accuracy, Sharpe with its standard
        error and 95 % block-bootstrap interval (annualised, net of costs), P&L in the contract's currency, trades."""
        from mlfactory.evaluation.sharpe_intervals import format_sharpe

        m = self.classification.get(split, {})
        t = self.strategy(split)
        return {
            "log_loss": _number(m.get("model", {}).get("log_loss")),
            "prior_log_loss": _number(m.get("prior", {}).get("log_loss")),
            "balanced_accuracy": _number(m.get("model", {}).get("balanced_accuracy")),
            "sharpe": _number(t.get("sharpe")),
            "sharpe_se": _number(t.get("sharpe_se")),
            "sharpe_ci_95": [_number(t.get("sharpe_ci_low")), _number(t.get("sharpe_ci_high"))],
            "sharpe_text": format_sharpe(t),
            "total_pnl_currency": _number(t.get("total_pnl_currency")),
            "costs": t.get("costs", "modelled"),
            "trades": t.get("trade_count"),
        }


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def write_metrics(directory: Path, record: MetricsRecord) -> Path:
    from mlfactory.jsonio import metric_reason, write_json

    # the shared strict dumper: non-finite numbers → null with "<key>_reason" beside them
    return write_json(Path(directory) / METRICS_FILE, record.model_dump(mode="python"), metric_reason)


def parse_metrics(obj: Any, source: str) -> MetricsRecord:
    try:
        return MetricsRecord.model_validate(obj)
    except ValidationError as exc:
        raise ArtifactError(
            f"{source}: not a metrics record ({validation_summary(exc)}); retrain the model with "
            "`mlfactory train` or `mlfactory train-ensemble`"
        ) from None


def read_metrics(path: Path) -> MetricsRecord:
    path = Path(path)
    try:
        obj = json.loads(path.read_text())
    except FileNotFoundError:
        raise ArtifactError(f"{path}: missing; train the model with `mlfactory train`") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(
            f"{path}: not valid JSON ({exc}); retrain with `mlfactory train` or `mlfactory train-ensemble`"
        ) from None
    return parse_metrics(obj, str(path))
