"""Returns and momentum oscillators: log returns, ROC, RSI, stochastics, Williams %R, CCI, MACD, TRIX, ULTOSC."""

from __future__ import annotations

import numpy as np

from mlfactory.features.context import BarContext
from mlfactory.features.ops import diff, rolling_mean, rolling_moment, safe_div, ta, ta_lookback
from mlfactory.features.spec import GroupBuilder

RETURN_LAGS = (1, 2, 3, 5, 10, 20, 50)
ROC_PERIODS = (9, 12, 25)
RSI_PERIODS = (2, 7, 14, 21)
MACD_PARAMS = ((12, 26, 9), (24, 52, 18))


def _macd(c: BarContext, fast: int, slow: int, signal: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MACD line, signal and histogram divided by the close (scale-free across price levels)."""
    line, sig, hist = ta("MACD", c.close, fastperiod=fast, slowperiod=slow, signalperiod=signal)
    return line / c.close, sig / c.close, hist / c.close


def build(g: GroupBuilder) -> None:
    for k in RETURN_LAGS:
        g.add(
            f"ret_log_{k}",
            lambda c, k=k: diff(c.log_close, k),
            warmup=k,
            window_only=True,
            kind="raw",
            desc=f"log return over the last {k} bars",
        )
    for label, n, _ in g.windows(min_bars=2):
        g.add(
            f"ret_log_{label}",
            lambda c, n=n: diff(c.log_close, n),
            warmup=n,
            window_only=True,
            kind="raw",
            desc=f"log return over the last {label} of bars",
        )
    for n in ROC_PERIODS:
        g.add(
            f"roc_{n}",
            lambda c, n=n: ta("ROC", c.close, timeperiod=n),
            warmup=n,
            window_only=True,
            desc=f"rate of change over {n} bars, %",
        )
    for n in RSI_PERIODS:
        g.add(
            f"rsi_{n}",
            lambda c, n=n: ta("RSI", c.close, timeperiod=n),
            warmup=ta_lookback("RSI", timeperiod=n),
            desc=f"Wilder RSI over {n} bars",
        )

    def stoch(c: BarContext) -> tuple[np.ndarray, np.ndarray]:
        return c.memo(
            "stoch",
            lambda: ta("STOCH", c.high, c.low, c.close, fastk_period=14, slowk_period=3, slowd_period=3),
        )

    stoch_lb = ta_lookback("STOCH", fastk_period=14, slowk_period=3, slowd_period=3)
    g.add("stoch_k_14", lambda c: stoch(c)[0], warmup=stoch_lb, desc="slow stochastic %K (14, 3)")
    g.add("stoch_d_14", lambda c: stoch(c)[1], warmup=stoch_lb, desc="slow stochastic %D (14, 3, 3)")

    def stochrsi(c: BarContext) -> tuple[np.ndarray, np.ndarray]:
        return c.memo(
            "stochrsi", lambda: ta("STOCHRSI", c.close, timeperiod=14, fastk_period=14, fastd_period=3)
        )

    srsi_lb = ta_lookback("STOCHRSI", timeperiod=14, fastk_period=14, fastd_period=3)
    g.add("stochrsi_k_14", lambda c: stochrsi(c)[0], warmup=srsi_lb, desc="stochastic RSI %K (14, 14)")
    g.add("stochrsi_d_14", lambda c: stochrsi(c)[1], warmup=srsi_lb, desc="stochastic RSI %D (14, 14, 3)")
    for n in (14, 28):
        g.add(
            f"willr_{n}",
            lambda c, n=n: ta("WILLR", c.high, c.low, c.close, timeperiod=n),
            warmup=ta_lookback("WILLR", timeperiod=n),
            window_only=True,
            desc=f"Williams %R over {n} bars",
        )
    for n in (14, 20, 50):
        g.add(
            f"cci_{n}",
            lambda c, n=n: ta("CCI", c.high, c.low, c.close, timeperiod=n),
            warmup=ta_lookback("CCI", timeperiod=n),
            desc=f"commodity channel index over {n} bars",
        )
    for fast, slow, sig in MACD_PARAMS:
        lb = ta_lookback("MACD", fastperiod=fast, slowperiod=slow, signalperiod=sig)
        tag = f"{fast}_{slow}_{sig}"
        for i, part in enumerate(("line", "signal", "hist")):
            g.add(
                f"macd_{part}_{tag}",
                lambda c, i=i, p=(fast, slow, sig): c.memo(("macd", p), lambda: _macd(c, *p))[i],
                warmup=lb,
                desc=f"MACD {part} ({fast}, {slow}, {sig}) divided by the close",
            )
    for n in (15, 30):
        g.add(
            f"trix_{n}",
            lambda c, n=n: ta("TRIX", c.close, timeperiod=n),
            warmup=ta_lookback("TRIX", timeperiod=n),
            desc=f"TRIX: 1-bar % change of a triple EMA over {n} bars",
        )
    g.add(
        "ultosc_7_14_28",
        lambda c: ta("ULTOSC", c.high, c.low, c.close, timeperiod1=7, timeperiod2=14, timeperiod3=28),
        warmup=ta_lookback("ULTOSC", timeperiod1=7, timeperiod2=14, timeperiod3=28),
        desc="ultimate oscillator (7, 14, 28)",
    )
    for n in (14, 28):
        g.add(
            f"cmo_{n}",
            lambda c, n=n: ta("CMO", c.close, timeperiod=n),
            warmup=ta_lookback("CMO", timeperiod=n),
            desc=f"Chande momentum oscillator over {n} bars",
        )
    g.add(
        "ppo_12_26",
        lambda c: ta("PPO", c.close, fastperiod=12, slowperiod=26, matype=1),
        warmup=ta_lookback("PPO", fastperiod=12, slowperiod=26, matype=1),
        desc="percentage price oscillator of EMA(12) vs EMA(26)",
    )

    def bop(c: BarContext) -> np.ndarray:
        return c.memo("bop", lambda: safe_div(c.close - c.open, c.high - c.low))

    g.add(
        "bop",
        bop,
        warmup=0,
        window_only=True,
        desc="balance of power: (close - open) / (high - low), 0 on a flat bar",
    )
    g.add(
        "bop_mean_14",
        lambda c: rolling_mean(bop(c), 14),
        warmup=13,
        window_only=True,
        desc="mean balance of power over 14 bars",
    )
    for n in (50,):
        g.add(
            f"ret_skew_{n}",
            lambda c, n=n: rolling_moment(c.ret1, n, "skew"),
            warmup=n,
            desc=f"skewness of 1-bar log returns over {n} bars (0 in a flat window)",
        )
        g.add(
            f"ret_kurt_{n}",
            lambda c, n=n: rolling_moment(c.ret1, n, "kurtosis"),
            warmup=n,
            desc=f"excess kurtosis of 1-bar log returns over {n} bars (0 in a flat window)",
        )
