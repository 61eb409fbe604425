"""Volume: relative volume, OBV slope, MFI, session and rolling VWAP distance, volume z-score, imbalance.

The session VWAP restarts at each exchange session open (``session_open``), not at UTC midnight.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from mlfactory.features import kernels as k
from mlfactory.features.context import BarContext
from mlfactory.features.ops import (
    lag,
    log_ratio,
    rolling_mean,
    rolling_sum,
    safe_div,
    segment_cumsum,
    ta,
    ta_lookback,
)
from mlfactory.features.spec import GroupBuilder

TOD_SESSIONS = 5  # previous sessions averaged for time-of-day relative volume


def typical_price(c: BarContext) -> np.ndarray:
    return c.memo("typical", lambda: (c.high + c.low + c.close) / 3.0)


def session_vwap(c: BarContext) -> np.ndarray:
    """VWAP of the typical price since the bar's session open (the bar itself included)."""

    def _vwap() -> np.ndarray:
        pv = segment_cumsum(typical_price(c) * c.volume, c.session_open)
        vol = segment_cumsum(c.volume, c.session_open)
        # A session whose first bars traded nothing has no VWAP yet: use the typical price.
        return np.where(vol > 0, safe_div(pv, vol), typical_price(c))

    return c.memo("session_vwap", _vwap)


def rolling_vwap(c: BarContext, n: int) -> np.ndarray:
    pv = rolling_sum(typical_price(c) * c.volume, n)
    vol = rolling_sum(c.volume, n)
    return np.where(vol > 0, safe_div(pv, vol), rolling_mean(typical_price(c), n))


def mean_volume(c: BarContext, n: int) -> np.ndarray:
    return c.memo(("mean_volume", n), lambda: rolling_mean(c.volume, n))


def tod_relative_volume(c: BarContext, day_bars: int) -> np.ndarray:
    """Volume / mean volume of the same slot (minutes since session open) in the previous sessions.

    Falls back to the trailing one-day mean where the slot has no history yet.
    """
    slot = (c.ts - c.session_open) // 60_000_000_000
    frame = pl.DataFrame({"slot": slot, "v": c.volume})
    prior = frame.select(
        pl.col("v").shift(1).rolling_mean(TOD_SESSIONS, min_samples=1).over("slot").alias("m")
    )["m"].to_numpy()
    day_mean = lag(mean_volume(c, day_bars), 1)
    base = np.where(np.isnan(prior), day_mean, prior)
    out = safe_div(c.volume, base, fill=1.0)
    out[:day_bars] = np.nan  # a fixed warm-up of one trading day, whatever the slots' history
    return out


def build(g: GroupBuilder) -> None:
    g.add(
        "log_volume",
        lambda c: np.log1p(c.volume),
        warmup=0,
        window_only=True,
        kind="raw",
        desc="log(1 + volume)",
    )
    for label, n, span in g.windows(20, min_bars=2):
        g.add(
            f"rvol_{label}",
            lambda c, n=n: safe_div(c.volume, mean_volume(c, n), fill=1.0),
            warmup=n - 1,
            window_only=True,
            desc=f"volume / mean volume over {span}",
        )
    if g.intraday:
        day = g.bars("1d")
        g.add(
            "rvol_tod",
            lambda c, day=day: tod_relative_volume(c, day),
            warmup=day,
            desc=f"volume / mean volume at the same minute of the session over the previous {TOD_SESSIONS} sessions",
        )
    for label, n, span in g.windows(20, min_bars=4):
        g.add(
            f"volume_z_{label}",
            lambda c, n=n: k.rolling_zscore(np.log1p(c.volume), n),
            warmup=k.rolling_warmup(n),
            desc=f"z-score of log volume over {span}",
        )
    for n in (20, 50):
        g.add(
            f"obv_slope_{n}",
            lambda c, n=n: safe_div(
                ta("LINEARREG_SLOPE", ta("OBV", c.close, c.volume), timeperiod=n), mean_volume(c, n)
            ),
            warmup=ta_lookback("LINEARREG_SLOPE", timeperiod=n),
            desc=f"OBV regression slope over {n} bars / mean volume",
        )
    for n in (14, 28):
        g.add(
            f"mfi_{n}",
            lambda c, n=n: ta("MFI", c.high, c.low, c.close, c.volume, timeperiod=n),
            warmup=ta_lookback("MFI", timeperiod=n),
            desc=f"money flow index over {n} bars",
        )
    g.add(
        "adosc_3_10",
        lambda c: safe_div(
            ta("ADOSC", c.high, c.low, c.close, c.volume, fastperiod=3, slowperiod=10), mean_volume(c, 10)
        ),
        warmup=max(ta_lookback("ADOSC", fastperiod=3, slowperiod=10), 9),
        desc="Chaikin A/D oscillator (3, 10) / mean volume over 10 bars",
    )

    def money_flow_volume(c: BarContext) -> np.ndarray:
        clv = safe_div((c.close - c.low) - (c.high - c.close), c.high - c.low)
        return clv * c.volume

    g.add(
        "cmf_20",
        lambda c: safe_div(rolling_sum(money_flow_volume(c), 20), rolling_sum(c.volume, 20)),
        warmup=19,
        window_only=True,
        desc="Chaikin money flow over 20 bars",
    )
    if g.intraday:
        g.add(
            "vwap_dist_session",
            lambda c: log_ratio(c.close, session_vwap(c)),
            warmup=0,
            desc="log(close / session VWAP), VWAP restarting at the exchange session open",
        )
    for label, n, span in g.windows(20, min_bars=3):
        g.add(
            f"vwap_dist_{label}",
            lambda c, n=n: log_ratio(c.close, rolling_vwap(c, n)),
            warmup=n - 1,
            window_only=True,
            desc=f"log(close / VWAP over the last {span})",
        )

    def signed_volume(c: BarContext) -> np.ndarray:
        return c.memo("signed_volume", lambda: np.sign(c.ret1) * c.volume)

    for label, n, span in g.windows(20, min_bars=3):
        g.add(
            f"updown_vol_imb_{label}",
            lambda c, n=n: safe_div(rolling_sum(signed_volume(c), n), rolling_sum(c.volume, n)),
            warmup=n,
            window_only=True,
            desc=f"(up-bar volume - down-bar volume) / volume over {span} (bar direction vs previous close)",
        )
    h, d = g.bars("1h"), g.bars("1d")
    if h >= 2:
        g.add(
            "volume_ratio_1h_1d",
            lambda c, h=h, d=d: safe_div(mean_volume(c, h), mean_volume(c, d), fill=1.0),
            warmup=d - 1,
            window_only=True,
            desc="mean volume over the last hour / over the last trading day",
        )
