"""The full trading summary of a backtest: strategy, buy-and-hold and always-flat baselines, breakdowns."""

from __future__ import annotations

from typing import Any

import numpy as np

from mlfactory.evaluation.backtest import BacktestResult, backtest
from mlfactory.evaluation.breakdowns import metrics_by_group, session_labels
from mlfactory.evaluation.trading_metrics import infer_bar_minutes, periods_per_year, trading_metrics


def buy_and_hold(result: BacktestResult) -> BacktestResult:
    """Long one contract from the first possible fill (bar 1's open) to the end, on the same bars and costs."""
    return backtest(
        result.bar_ts[:1],
        np.ones(1),
        result.bar_ts,
        result.bar_open,
        result.bar_close,
        result.instrument,
        holding="until_next_signal",
        capital=result.capital,
    )


def always_flat(result: BacktestResult) -> BacktestResult:
    """Never trade, on the same bars."""
    return backtest(
        np.empty(0, dtype=np.int64),
        np.empty(0),
        result.bar_ts,
        result.bar_open,
        result.bar_close,
        result.instrument,
        holding="until_next_signal",
        capital=result.capital,
    )


def trading_report(
    result: BacktestResult,
    *,
    bar_minutes: float | None = None,
    regime: np.ndarray | None = None,
) -> dict[str, Any]:
    """Metrics of the strategy and both baselines, plus breakdowns by session and (given) regime.

    ``bar_minutes`` defaults to the median bar spacing; ``regime`` is one label per bar (e.g. from
    ``volatility_regimes``) and adds a ``by_regime`` section.
    """
    minutes = infer_bar_minutes(result.bar_ts) if bar_minutes is None else float(bar_minutes)
    ppy = periods_per_year(result.instrument, minutes)
    report: dict[str, Any] = {
        "bar_minutes": minutes,
        "periods_per_year": ppy,
        "strategy": trading_metrics(result, ppy),
        "buy_and_hold": trading_metrics(buy_and_hold(result), ppy),
        "always_flat": trading_metrics(always_flat(result), ppy),
        "by_session": metrics_by_group(result, session_labels(result.bar_ts), ppy),
    }
    if regime is not None:
        report["by_regime"] = metrics_by_group(result, regime, ppy)
    return report
