"""Evaluate one set of predictions on one split: classification metrics, IC, and a backtest with costs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from mlfactory.data.segments import bar_segments
from mlfactory.errors import DataError
from mlfactory.evaluation import (
    backtest,
    classification_report,
    information_coefficient_report,
    positions_from_probabilities,
    trading_report,
    volatility_regimes,
)
from mlfactory.evaluation.comparison import coverage, evidence_warnings, trading_days
from mlfactory.evaluation.trials import (
    decision_net_returns,
    decision_trial,
    deflated_sharpe_in_run,
    entry_prices,
    read_trials,
    record_trial,
)
from mlfactory.models.base import PROBA_COLUMNS
from mlfactory.run_data import RunData
from mlfactory.timeframes import tf_minutes
from mlfactory.training.overfitting_stats import deflated_sharpe

POSITION_RULE = "argmax"


@dataclass(frozen=True)
class SplitEvaluation:
    classification: dict[str, Any]
    trading: dict[str, Any]
    signal: dict[str, Any]
    predictions: pl.DataFrame  # timestamp, label, ret, p_short, p_neutral, p_long, position
    equity: pl.DataFrame  # timestamp, position, equity_currency, drawdown_currency, buy_and_hold_equity


def evaluate_split(
    data: RunData,
    horizon: int,
    ts: np.ndarray,
    proba: np.ndarray,
    y: np.ndarray,
    ret: np.ndarray,
    train_class_frequencies: np.ndarray,
    *,
    rule: str = POSITION_RULE,
    other_trials: list[float] | None = None,
    trial_id: str | None = None,
    trial_kind: str = "model",
) -> SplitEvaluation:
    """Metrics of ``proba`` at decision times ``ts``; the backtest holds each signal for the label horizon.

    The deflated Sharpe is on per-decision returns net of costs. With ``trial_id`` this split is
    recorded in the run's trial registry and deflated against every trial there; otherwise against
    ``other_trials`` (per-decision net Sharpe ratios).
    """
    cls_report = classification_report(y, proba, train_class_frequencies=train_class_frequencies)
    positions = positions_from_probabilities(proba, rule)  # type: ignore[arg-type]
    tf = data.decision_timeframe
    bars = data.bars(tf)
    bar_ts = bars["timestamp"].dt.epoch("ns").to_numpy()
    lo = np.searchsorted(bar_ts, ts[0])
    hi = min(len(bar_ts), np.searchsorted(bar_ts, ts[-1]) + horizon + 2)
    window = slice(lo, hi)
    result = backtest(
        ts,
        positions,
        bar_ts[window],
        bars["open"].to_numpy()[window],
        bars["close"].to_numpy()[window],
        data.instrument,
        holding="horizon",
        horizon=horizon,
        bar_segment=bar_segments(bars)[window],  # no position across a contract roll
    )
    close = bars["close"].to_numpy()[window]
    regime = volatility_regimes(close, min(48, max(2, len(close) // 4))) if len(close) > 8 else None
    trading = trading_report(result, bar_minutes=tf_minutes(tf), regime=regime)
    trading["position_rule"] = rule
    trading["strategy"]["costs"] = data.instrument.costs  # "none" (--no-costs) is shown beside every Sharpe
    entry = entry_prices(ts, bar_ts, bars["close"].to_numpy())
    trading["deflated_sharpe"] = _deflated_sharpe(
        data, horizon, positions, ret, entry, other_trials or [], trial_id, trial_kind
    )
    trading["holding"] = f"horizon ({horizon} bars of {tf})"
    trading.update(_evidence(data, horizon, ts, result.bar_ts, trading["strategy"]["trade_count"]))
    signal = information_coefficient_report(ts, proba, ret)
    preds = predictions_frame(ts, y, ret, proba, positions)
    equity_frame = equity_frame_of(result, close, data.instrument.point_value)
    return SplitEvaluation(cls_report, trading, signal, preds, equity_frame)


def predictions_frame(
    ts: np.ndarray, y: np.ndarray, ret: np.ndarray, proba: np.ndarray, positions: np.ndarray
) -> pl.DataFrame:
    """``predictions_<split>.parquet``: timestamp, label, ret, the probabilities and the position."""
    return pl.DataFrame(
        {
            "timestamp": pl.Series(ts).cast(pl.Datetime("ns", "UTC")),
            "label": y.astype(np.int8),
            "ret": ret,
            **{c: proba[:, j] for j, c in enumerate(PROBA_COLUMNS)},
            "position": positions,
        }
    )


def equity_frame_of(result: Any, close: np.ndarray, point_value: float) -> pl.DataFrame:
    """``equity_<split>.parquet``: per bar, position, equity and drawdown in currency, and buy and hold."""
    equity = result.equity_currency
    return pl.DataFrame(
        {
            "timestamp": pl.Series(result.bar_ts).cast(pl.Datetime("ns", "UTC")),
            "position": result.position,
            "equity_currency": equity,
            "drawdown_currency": equity - np.maximum.accumulate(equity),
            "buy_and_hold_equity": np.cumsum(np.diff(close, prepend=close[0])) * point_value,
        }
    )


def _deflated_sharpe(
    data: RunData,
    horizon: int,
    positions: np.ndarray,
    ret: np.ndarray,
    entry: np.ndarray,
    other_trials: list[float],
    trial_id: str | None,
    trial_kind: str,
) -> dict[str, Any]:
    """DSR of this split's per-decision net returns: recorded in the run's registry when ``trial_id`` is given."""
    if trial_id is None:
        return deflated_sharpe(decision_net_returns(positions, ret, entry, data.instrument), other_trials)
    trial = decision_trial(trial_id, trial_kind, horizon, "test", positions, ret, entry, data.instrument)
    record_trial(data.run.root, trial)
    return deflated_sharpe_in_run(read_trials(data.run.root), trial_id)


def _evidence(data: RunData, horizon: int, ts: np.ndarray, bar_ts: np.ndarray, trades: int) -> dict[str, Any]:
    """Coverage of the decision clock (rows of the splits the decisions fall in: one split, or several for
    a stitched walk-forward series), trading days, and warnings about thin evidence."""
    labels = data.labels(horizon)
    label_ts = labels["timestamp"].dt.epoch("ns").to_numpy()
    i = np.searchsorted(label_ts, ts)
    on_clock = (i < len(label_ts)) & (label_ts[np.minimum(i, len(label_ts) - 1)] == ts)
    if not on_clock.all():
        first = int(ts[~on_clock][0])
        raise DataError(f"labels h{horizon}: decision {first} is not on the label clock; rerun the pipeline")
    splits = labels["split"].gather(i).unique()
    cov = coverage(len(ts), labels.filter(pl.col("split").is_in(splits.implode())).height)
    days = trading_days(bar_ts)
    return {"coverage": cov, "trading_days": days, "warnings": evidence_warnings(cov["share"], days, trades)}


def overfitting_block(test: SplitEvaluation) -> dict[str, Any]:
    """``metrics.overfitting``: the test split's deflated Sharpe (headline ``dsr`` and its details)."""
    dsr = test.trading["deflated_sharpe"]
    return {"dsr": dsr.get("dsr"), "deflated_sharpe": dsr}
