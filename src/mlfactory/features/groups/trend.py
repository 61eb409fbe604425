"""Trend: distances to and slopes of moving averages, ADX/DI, Aroon, price channels, linear regression."""

from __future__ import annotations

import numpy as np

from mlfactory.features import kernels as k
from mlfactory.features.context import BarContext
from mlfactory.features.ops import diff, log_ratio, range_position, rolling_sum, safe_div, ta, ta_lookback
from mlfactory.features.spec import GroupBuilder

MA_PERIODS = (10, 20, 50, 100, 200)
SLOPE_BARS = 5


def moving_average(c: BarContext, kind: str, n: int) -> np.ndarray:
    """TA-Lib moving average ``kind`` (SMA, EMA, KAMA, …) of the close, shared through the memo."""
    return c.memo((kind, n), lambda: ta(kind, c.close, timeperiod=n))


def build(g: GroupBuilder) -> None:
    for kind in ("SMA", "EMA"):
        low = kind.lower()
        for n in MA_PERIODS:
            g.add(
                f"dist_{low}_{n}",
                lambda c, kind=kind, n=n: log_ratio(c.close, moving_average(c, kind, n)),
                warmup=ta_lookback(kind, timeperiod=n),
                desc=f"log(close / {kind}({n}))",
            )
        for n in (20, 50, 200):
            g.add(
                f"slope_{low}_{n}",
                lambda c, kind=kind, n=n: diff(np.log(moving_average(c, kind, n)), SLOPE_BARS) / SLOPE_BARS,
                warmup=ta_lookback(kind, timeperiod=n) + SLOPE_BARS,
                desc=f"log change of {kind}({n}) per bar over the last {SLOPE_BARS} bars",
            )
    for label, n, _ in g.windows(min_bars=3):
        g.add(
            f"dist_ema_{label}",
            lambda c, n=n: log_ratio(c.close, moving_average(c, "EMA", n)),
            warmup=ta_lookback("EMA", timeperiod=n),
            desc=f"log(close / EMA over {label})",
        )
    g.add(
        "ema_cross_12_26",
        lambda c: log_ratio(moving_average(c, "EMA", 12), moving_average(c, "EMA", 26)),
        warmup=ta_lookback("EMA", timeperiod=26),
        desc="log(EMA(12) / EMA(26))",
    )
    g.add(
        "sma_cross_20_100",
        lambda c: log_ratio(moving_average(c, "SMA", 20), moving_average(c, "SMA", 100)),
        warmup=ta_lookback("SMA", timeperiod=100),
        desc="log(SMA(20) / SMA(100))",
    )
    for kind, n in (("KAMA", 10), ("TEMA", 20), ("WMA", 20), ("DEMA", 20)):
        g.add(
            f"dist_{kind.lower()}_{n}",
            lambda c, kind=kind, n=n: log_ratio(c.close, moving_average(c, kind, n)),
            warmup=ta_lookback(kind, timeperiod=n),
            desc=f"log(close / {kind}({n}))",
        )
    for name, fn, n in (
        ("adx_14", "ADX", 14),
        ("adx_28", "ADX", 28),
        ("adxr_14", "ADXR", 14),
        ("dx_14", "DX", 14),
        ("plus_di_14", "PLUS_DI", 14),
        ("minus_di_14", "MINUS_DI", 14),
    ):
        g.add(
            name,
            lambda c, fn=fn, n=n: ta(fn, c.high, c.low, c.close, timeperiod=n),
            warmup=ta_lookback(fn, timeperiod=n),
            desc=f"{fn} over {n} bars (Wilder)",
        )
    g.add(
        "di_spread_14",
        lambda c: (
            ta("PLUS_DI", c.high, c.low, c.close, timeperiod=14)
            - ta("MINUS_DI", c.high, c.low, c.close, timeperiod=14)
        ),
        warmup=ta_lookback("PLUS_DI", timeperiod=14),
        desc="+DI(14) - -DI(14)",
    )
    for n in (14, 25):
        lb = ta_lookback("AROON", timeperiod=n)

        def aroon(c: BarContext, n: int = n) -> tuple[np.ndarray, np.ndarray]:
            return c.memo(("aroon", n), lambda: ta("AROON", c.high, c.low, timeperiod=n))

        g.add(
            f"aroon_down_{n}",
            lambda c, a=aroon: a(c)[0],
            warmup=lb,
            window_only=True,
            desc=f"Aroon down over {n} bars",
        )
        g.add(
            f"aroon_up_{n}",
            lambda c, a=aroon: a(c)[1],
            warmup=lb,
            window_only=True,
            desc=f"Aroon up over {n} bars",
        )
        g.add(
            f"aroonosc_{n}",
            lambda c, n=n: ta("AROONOSC", c.high, c.low, timeperiod=n),
            warmup=ta_lookback("AROONOSC", timeperiod=n),
            window_only=True,
            desc=f"Aroon oscillator (up - down) over {n} bars",
        )
    for n in (20, 55):
        g.add(
            f"channel_pos_{n}",
            lambda c, n=n: range_position(c.close, c.high, c.low, n),
            warmup=n - 1,
            window_only=True,
            desc=f"close position in the {n}-bar high-low channel (0 = low, 1 = high)",
        )
    for label, n, _ in g.windows(times=("4h", "1d"), min_bars=3):
        g.add(
            f"channel_pos_{label}",
            lambda c, n=n: range_position(c.close, c.high, c.low, n),
            warmup=n - 1,
            window_only=True,
            desc=f"close position in the high-low channel of the last {label}",
        )
    for label, n, span in g.windows(20, 50, times=("1h", "4h", "1d"), min_bars=5):
        g.add(
            f"linreg_slope_{label}",
            lambda c, n=n: k.rolling_slope(c.log_close, n),
            warmup=k.rolling_warmup(n),
            desc=f"OLS slope of log close on time over {span}, per bar",
        )
        g.add(
            f"linreg_r2_{label}",
            lambda c, n=n: k.rolling_r2(c.log_close, n),
            warmup=k.rolling_warmup(n),
            desc=f"R² of the OLS line through log close over {span}",
        )
    for n in (20, 50):
        g.add(
            f"efficiency_ratio_{n}",
            lambda c, n=n: safe_div(np.abs(diff(c.close, n)), rolling_sum(np.abs(diff(c.close, 1)), n)),
            warmup=n,
            window_only=True,
            desc=f"Kaufman efficiency ratio over {n} bars: |net change| / sum of |bar changes| (0 if flat)",
        )
