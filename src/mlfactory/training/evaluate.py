"""Evaluate one set of predictions on one split: classification metrics, IC, and a backtest with costs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from mlfactory.data.segments import bar_segments
from mlfactory.evaluation import (
    backtest,
    classification_report,
    information_coefficient_report,
    positions_from_probabilities,
    trading_report,
    volatility_regimes,
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
) -> SplitEvaluation:
    """Metrics of ``proba`` at decision times ``ts``; the backtest holds each signal for the label horizon."""
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
    trading["deflated_sharpe"] = deflated_sharpe(result.returns, other_trials or [])
    trading["holding"] = f"horizon ({horizon} bars of {tf})"
    signal = information_coefficient_report(ts, proba, ret)
    equity = result.equity_currency
    bh = np.cumsum(np.diff(close, prepend=close[0])) * data.instrument.point_value
    equity_frame = pl.DataFrame(
        {
            "timestamp": pl.Series(result.bar_ts).cast(pl.Datetime("ns", "UTC")),
            "position": result.position,
            "equity_currency": equity,
            "drawdown_currency": equity - np.maximum.accumulate(equity),
            "buy_and_hold_equity": bh,
        }
    )
    preds = pl.DataFrame(
        {
            "timestamp": pl.Series(ts).cast(pl.Datetime("ns", "UTC")),
            "label": y.astype(np.int8),
            "ret": ret,
            **{c: proba[:, j] for j, c in enumerate(PROBA_COLUMNS)},
            "position": positions,
        }
    )
    return SplitEvaluation(cls_report, trading, signal, preds, equity_frame)


def overfitting_block(test: SplitEvaluation) -> dict[str, Any]:
    """``metrics.overfitting``: the test split's deflated Sharpe (headline ``dsr`` and its details)."""
    dsr = test.trading["deflated_sharpe"]
    return {"dsr": dsr.get("dsr"), "deflated_sharpe": dsr}
