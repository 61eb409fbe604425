"""Volatility: ATR/NATR, Bollinger, Keltner, realised volatility and its term structure.

Annualised figures use the instrument's real session (``BarContext.bars_per_year``): a 5m bar of a
23-hour CME day is one of 276 × 252 bars a year, not 288 × 365.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from mlfactory.features import kernels as k
from mlfactory.features.context import BarContext
from mlfactory.features.groups.trend import moving_average
from mlfactory.features.ops import safe_div, ta, ta_lookback
from mlfactory.features.spec import GroupBuilder

BB_PERIODS = (20, 50)
RV_BARS = (20, 100)


def atr(c: BarContext, n: int) -> np.ndarray:
    """Wilder ATR over ``n`` bars in price points (shared with other groups through the memo)."""
    return c.memo(("atr", n), lambda: ta("ATR", c.high, c.low, c.close, timeperiod=n))


def realised_vol(c: BarContext, n: int) -> np.ndarray:
    """Annualised standard deviation of 1-bar log returns over ``n`` bars."""
    return c.memo(("rv", n), lambda: k.realised_volatility(c.close, n) * np.sqrt(c.bars_per_year))


RANGE_ESTIMATORS = (
    ("parkinson", lambda c, n: k.parkinson_volatility(c.high, c.low, n), k.range_warmup),
    (
        "garman_klass",
        lambda c, n: k.garman_klass_volatility(c.open, c.high, c.low, c.close, n),
        k.range_warmup,
    ),
    (
        "rogers_satchell",
        lambda c, n: k.rogers_satchell_volatility(c.open, c.high, c.low, c.close, n),
        k.range_warmup,
    ),
    (
        "yang_zhang",
        lambda c, n: k.yang_zhang_volatility(c.open, c.high, c.low, c.close, n),
        k.close_to_close_warmup,
    ),
)


def _bbands(c: BarContext, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return c.memo(("bb", n), lambda: ta("BBANDS", c.close, timeperiod=n, nbdevup=2.0, nbdevdn=2.0, matype=0))


def build(g: GroupBuilder) -> None:
    for label, n, span in g.windows(14, min_bars=3):
        lb = ta_lookback("ATR", timeperiod=n)
        g.add(
            f"atr_{label}",
            lambda c, n=n: atr(c, n),
            warmup=lb,
            kind="raw",
            desc=f"average true range over {span}, price points",
        )
        g.add(
            f"natr_{label}",
            lambda c, n=n: 100.0 * atr(c, n) / c.close,
            warmup=lb,
            desc=f"ATR over {span} / close, %",
        )
    g.add(
        "tr_atr_ratio_14",
        lambda c: safe_div(ta("TRANGE", c.high, c.low, c.close), atr(c, 14), fill=1.0),
        warmup=ta_lookback("ATR", timeperiod=14),
        desc="this bar's true range / ATR(14)",
    )
    for n in BB_PERIODS:
        lb = ta_lookback("BBANDS", timeperiod=n, nbdevup=2.0, nbdevdn=2.0, matype=0)
        g.add(
            f"bb_width_{n}",
            lambda c, n=n: safe_div(_bbands(c, n)[0] - _bbands(c, n)[2], _bbands(c, n)[1]),
            warmup=lb,
            desc=f"Bollinger band width (upper - lower) / middle, {n} bars, 2 sd",
        )
        g.add(
            f"bb_pctb_{n}",
            lambda c, n=n: safe_div(
                c.close - _bbands(c, n)[2], _bbands(c, n)[0] - _bbands(c, n)[2], fill=0.5
            ),
            warmup=lb,
            desc=f"Bollinger %B: close position between the {n}-bar bands (0.5 when flat)",
        )
        g.add(
            f"keltner_pos_{n}",
            lambda c, n=n: safe_div(c.close - moving_average(c, "EMA", n), 2.0 * atr(c, n)),
            warmup=max(ta_lookback("EMA", timeperiod=n), ta_lookback("ATR", timeperiod=n)),
            desc=f"Keltner position: (close - EMA({n})) / (2 × ATR({n}))",
        )
    rv_windows = g.windows(*RV_BARS, min_bars=4)
    for label, n, span in rv_windows:
        g.add(
            f"rv_{label}",
            lambda c, n=n: realised_vol(c, n),
            warmup=k.close_to_close_warmup(n),
            desc=f"annualised realised volatility of 1-bar log returns over {span}",
        )
        g.add(
            f"ret_z_{label}",
            lambda c, n=n: k.rolling_zscore(c.ret1, n),
            warmup=n,
            desc=f"z-score of the 1-bar log return within the last {span}",
        )
    for label, n, span in g.windows(20, times=("1h", "4h", "1d"), min_bars=4):
        for name, fn, warm in RANGE_ESTIMATORS:
            g.add(
                f"{name}_{label}",
                lambda c, fn=fn, n=n: fn(c, n) * np.sqrt(c.bars_per_year),
                warmup=warm(n),
                desc=f"annualised {name.replace('_', '-')} volatility over {span}",
            )
    # Term structure: consecutive time windows, each time window against the longest, and 20 vs 100 bars.
    timed = [w.label for w in rv_windows[len(RV_BARS) :]]
    pairs = [("20", "100"), *pairwise(timed), *((a, timed[-1]) for a in timed[:-2])]
    sizes = {w.label: w.bars for w in rv_windows}
    for a, b in dict.fromkeys(pairs):
        g.add(
            f"rv_ratio_{a}_{b}",
            lambda c, na=sizes[a], nb=sizes[b]: safe_div(realised_vol(c, na), realised_vol(c, nb), fill=1.0),
            warmup=max(sizes[a], sizes[b]),
            desc=f"realised volatility over {a} / over {b}",
        )
