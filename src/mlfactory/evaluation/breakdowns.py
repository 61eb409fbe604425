"""Breakdowns of a backtest by trading session (UTC hours) and by volatility regime.

Sessions are fixed UTC clock ranges (no daylight-saving shift), assigned by the last instant of
each bar (``close - 1 ns``, so a bar closing at exactly 07:00 still belongs to Asia):

- ``asia``: 22:00–07:00 UTC (Globex evening re-open through Tokyo, Hong Kong and Singapore),
- ``europe``: 07:00–13:30 UTC (London/Frankfurt until the US cash open in summer),
- ``us``: 13:30–22:00 UTC (US cash session and the Globex close/daily break).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from mlfactory.errors import ConfigError, DataError
from mlfactory.evaluation.backtest import BacktestResult
from mlfactory.evaluation.sharpe_intervals import returns_sharpe_standard_error
from mlfactory.evaluation.trading_metrics import (
    NS_PER_DAY,
    NS_PER_MINUTE,
    sharpe_ratio,
    sortino_ratio,
    trade_statistics,
)

SESSION_NAMES = ("asia", "europe", "us")
EUROPE_OPEN_UTC_MINUTE = 7 * 60
US_OPEN_UTC_MINUTE = 13 * 60 + 30
ASIA_OPEN_UTC_MINUTE = 22 * 60
REGIME_NAMES = ("low", "mid", "high")
WARMUP_LABEL = "warmup"


def session_labels(bar_ts: np.ndarray) -> np.ndarray:
    """``"asia" | "europe" | "us"`` for each bar close timestamp (see the module docstring)."""
    ts = np.asarray(bar_ts, dtype=np.int64)
    minute = ((ts - 1) % NS_PER_DAY) // NS_PER_MINUTE
    code = np.where(
        (minute >= EUROPE_OPEN_UTC_MINUTE) & (minute < US_OPEN_UTC_MINUTE),
        1,
        np.where((minute >= US_OPEN_UTC_MINUTE) & (minute < ASIA_OPEN_UTC_MINUTE), 2, 0),
    )
    return np.asarray(SESSION_NAMES)[code]


def volatility_regimes(bar_close: np.ndarray, window: int) -> np.ndarray:
    """``"low" | "mid" | "high"`` volatility regime per bar, for reporting only.

    The volatility is the trailing ``window``-bar standard deviation of log returns (causal); the
    regime cut-offs are its terciles over the whole sample, which is ex-post: use these labels to
    slice results, never as a feature. The first ``window`` bars are ``"warmup"``.
    """
    close = np.asarray(bar_close, dtype=np.float64)
    if isinstance(window, bool) or int(window) != window or window < 2:
        raise ConfigError(
            f"window: the volatility window must be a whole number of bars >= 2, got {window!r}"
        )
    if not (np.isfinite(close).all() and (close > 0).all()):
        raise DataError("bar_close: volatility regimes use log returns and need finite positive prices")
    log_ret = np.concatenate(([np.nan], np.diff(np.log(close))))
    vol = pl.Series(log_ret, nan_to_null=True).rolling_std(int(window)).to_numpy()
    valid = np.isfinite(vol)
    labels = np.full(close.shape[0], WARMUP_LABEL, dtype=object)
    if valid.any():
        cuts = np.quantile(vol[valid], [1.0 / 3.0, 2.0 / 3.0])
        labels[valid] = np.asarray(REGIME_NAMES, dtype=object)[
            np.searchsorted(cuts, vol[valid], side="right")
        ]
    return labels.astype(str)


def metrics_by_group(result: BacktestResult, labels: np.ndarray, periods_per_year: float) -> dict[str, Any]:
    """Per-label P&L, annualised return, Sharpe, Sortino and exposure over the label's bars, plus the
    statistics of the trades entered in that label's bars. Keys are the labels as strings."""
    lab = np.asarray(labels)
    if lab.shape != (result.n_bars,):
        raise DataError(f"labels: expected one label per bar ({result.n_bars}), got shape {lab.shape}")
    trade_label = lab[result.trades.entry_index]
    out: dict[str, Any] = {}
    for group in np.unique(lab):
        mask = lab == group
        r = result.returns[mask]
        enough = r.shape[0] >= 2
        stats = {
            "n_bars": int(mask.sum()),
            "total_pnl_points": float(result.pnl_points[mask].sum()),
            "total_pnl_currency": float(result.pnl_currency[mask].sum()),
            "annualised_return": float(r.mean()) * periods_per_year,
            "sharpe": sharpe_ratio(r, periods_per_year) if enough else 0.0,
            "sharpe_se": returns_sharpe_standard_error(r) * np.sqrt(periods_per_year) if enough else 0.0,
            "sortino": sortino_ratio(r, periods_per_year) if enough else 0.0,
            "exposure": float((result.position[mask] != 0).mean()),
        }
        stats.update(
            trade_statistics(result.trades.pnl_points[trade_label == group], result.instrument.point_value)
        )
        out[str(group)] = stats
    return out
