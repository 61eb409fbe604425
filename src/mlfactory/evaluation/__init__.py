"""Evaluation: positions from probabilities, backtest with costs, trading/signal/classification metrics,
deflated Sharpe ratio and probability of backtest overfitting."""

from mlfactory.evaluation.backtest import BacktestResult, Trades, backtest, cost_per_side_points
from mlfactory.evaluation.breakdowns import metrics_by_group, session_labels, volatility_regimes
from mlfactory.evaluation.classification_metrics import (
    class_frequencies,
    classification_metrics,
    classification_report,
)
from mlfactory.evaluation.overfitting import (
    PBOResult,
    deflated_sharpe_ratio,
    expected_maximum_sharpe_ratio,
    probabilistic_sharpe_ratio,
    probability_of_backtest_overfitting,
    sharpe_ratio_moments,
)
from mlfactory.evaluation.positions import positions_from_probabilities
from mlfactory.evaluation.sharpe_intervals import (
    block_bootstrap_sharpe_interval,
    format_sharpe,
    sharpe_standard_error,
    sharpe_uncertainty,
)
from mlfactory.evaluation.signal_metrics import (
    daily_information_coefficients,
    information_coefficient,
    information_coefficient_report,
    traded_side_precision,
)
from mlfactory.evaluation.summary import always_flat, buy_and_hold, trading_report
from mlfactory.evaluation.trading_metrics import (
    infer_bar_minutes,
    max_drawdown,
    periods_per_year,
    sharpe_ratio,
    sortino_ratio,
    trade_statistics,
    trading_metrics,
)

__all__ = [
    "BacktestResult",
    "PBOResult",
    "Trades",
    "always_flat",
    "backtest",
    "block_bootstrap_sharpe_interval",
    "buy_and_hold",
    "class_frequencies",
    "classification_metrics",
    "classification_report",
    "cost_per_side_points",
    "daily_information_coefficients",
    "deflated_sharpe_ratio",
    "expected_maximum_sharpe_ratio",
    "format_sharpe",
    "infer_bar_minutes",
    "information_coefficient",
    "information_coefficient_report",
    "max_drawdown",
    "metrics_by_group",
    "periods_per_year",
    "positions_from_probabilities",
    "probabilistic_sharpe_ratio",
    "probability_of_backtest_overfitting",
    "session_labels",
    "sharpe_ratio",
    "sharpe_ratio_moments",
    "sharpe_standard_error",
    "sharpe_uncertainty",
    "sortino_ratio",
    "trade_statistics",
    "traded_side_precision",
    "trading_metrics",
    "trading_report",
    "volatility_regimes",
]
