"""Microstructure from bars: bar shape (range, body, wicks, close location, gap) and liquidity estimators."""

from __future__ import annotations

import numpy as np

from mlfactory.features import kernels as k
from mlfactory.features.context import BarContext
from mlfactory.features.ops import forward_fill, lag, log_ratio, rolling_mean, safe_div
from mlfactory.features.spec import GroupBuilder

BPS = 1e4


def _amihud(c: BarContext, n: int) -> np.ndarray:
    """Amihud × 1e6; a window in which nothing traded carries the last defined value forward."""
    return forward_fill(k.amihud_illiquidity(c.close, c.volume, n)) * 1e6


def _bar_range(c: BarContext) -> np.ndarray:
    return c.memo("bar_range", lambda: c.high - c.low)


def build(g: GroupBuilder) -> None:
    g.add(
        "range_log",
        lambda c: log_ratio(c.high, c.low),
        warmup=0,
        kind="raw",
        desc="log(high / low) of the bar",
    )
    g.add(
        "body_ratio",
        lambda c: safe_div(np.abs(c.close - c.open), _bar_range(c)),
        warmup=0,
        kind="raw",
        desc="|close - open| / (high - low), 0 on a flat bar",
    )
    g.add(
        "body_signed",
        lambda c: safe_div(c.close - c.open, _bar_range(c)),
        warmup=0,
        kind="raw",
        desc="(close - open) / (high - low), 0 on a flat bar",
    )
    g.add(
        "upper_wick_ratio",
        lambda c: safe_div(c.high - np.maximum(c.open, c.close), _bar_range(c)),
        warmup=0,
        kind="raw",
        desc="(high - max(open, close)) / (high - low)",
    )
    g.add(
        "lower_wick_ratio",
        lambda c: safe_div(np.minimum(c.open, c.close) - c.low, _bar_range(c)),
        warmup=0,
        kind="raw",
        desc="(min(open, close) - low) / (high - low)",
    )
    g.add(
        "close_location",
        lambda c: safe_div((c.close - c.low) - (c.high - c.close), _bar_range(c)),
        warmup=0,
        kind="raw",
        desc="close location value in [-1, 1]: -1 at the low, 1 at the high, 0 on a flat bar",
    )
    g.add(
        "gap_log",
        lambda c: log_ratio(c.open, lag(c.close, 1)),
        warmup=1,
        kind="raw",
        desc="log(open / previous bar's close)",
    )
    for label, n, span in g.windows(20, times=("1h", "1d"), min_bars=3):
        g.add(
            f"range_log_mean_{label}",
            lambda c, n=n: rolling_mean(log_ratio(c.high, c.low), n),
            warmup=n - 1,
            desc=f"mean log(high / low) over the last {span}",
        )
    for label, n, span in g.windows(20, times=("1h", "1d"), min_bars=10):
        g.add(
            f"roll_spread_{label}",
            lambda c, n=n: BPS * k.roll_spread(c.close, n) / c.close,
            warmup=k.roll_spread_warmup(n),
            desc=f"Roll effective spread from serial covariance of price changes over {span}, bps of close",
        )
        g.add(
            f"corwin_schultz_{label}",
            lambda c, n=n: BPS * k.corwin_schultz_spread(c.high, c.low, n),
            warmup=k.change_warmup(n),
            desc=f"Corwin-Schultz high-low spread estimate averaged over {span}, bps",
        )
        g.add(
            f"amihud_{label}",
            lambda c, n=n: _amihud(c, n),
            warmup=k.change_warmup(n),
            desc=f"Amihud illiquidity |log return| / (close × volume) × 1e6, mean over {span}",
        )
        g.add(
            f"kyle_lambda_{label}",
            lambda c, n=n: BPS * k.kyle_lambda(c.close, c.volume, n) / c.close,
            warmup=k.change_warmup(n),
            desc=f"Kyle's lambda: price change per contract of signed volume over {span}, bps of close",
        )
