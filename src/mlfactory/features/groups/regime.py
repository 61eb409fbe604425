"""Regime: trailing volatility percentile and regime, trend regime and t-statistic, trailing Hurst exponent."""

from __future__ import annotations

import numpy as np

from mlfactory.features import kernels as k
from mlfactory.features.context import BarContext
from mlfactory.features.kernels.regime import HIGH, LOW, MID
from mlfactory.features.spec import GroupBuilder

VOL_REGIME_BARS = (20, 250)  # realised vol over 20 bars ranked within the last 250 bars
HURST_WINDOWS = (128, 256)


def vol_percentile(c: BarContext, vol_n: int, rank_n: int) -> np.ndarray:
    """Trailing percentile rank (0..1) of realised volatility over ``vol_n`` bars within ``rank_n`` bars."""
    return c.memo(
        ("vol_pctile", vol_n, rank_n),
        lambda: k.rolling_percentile_rank(k.realised_volatility(c.close, vol_n), rank_n),
    )


def vol_regime(c: BarContext, vol_n: int, rank_n: int) -> np.ndarray:
    """Terciles of ``vol_percentile``, as ``kernels.volatility_regime`` (which would recompute the rank)."""
    rank = vol_percentile(c, vol_n, rank_n)
    regime = np.where(rank < 1.0 / 3.0, LOW, np.where(rank < 2.0 / 3.0, MID, HIGH))
    return np.where(np.isnan(rank), np.nan, regime)


def build(g: GroupBuilder) -> None:
    windows = [("20_250", *VOL_REGIME_BARS)]
    if g.bars("1h") >= 4 and g.bars("1d") >= 20:
        windows.append(("1h_1d", g.bars("1h"), g.bars("1d")))
    for label, vol_n, rank_n in windows:
        g.add(
            f"vol_pctile_{label}",
            lambda c, v=vol_n, r=rank_n: vol_percentile(c, v, r),
            warmup=k.volatility_regime_warmup(vol_n, rank_n),
            desc=f"percentile of realised volatility ({label.split('_')[0]}) within its trailing "
            f"{label.split('_')[1]} window, 0..1",
        )
        g.add(
            f"vol_regime_{label}",
            lambda c, v=vol_n, r=rank_n: vol_regime(c, v, r),
            warmup=k.volatility_regime_warmup(vol_n, rank_n),
            desc="volatility regime 0 / 1 / 2 (low / mid / high tercile of the trailing percentile)",
        )
    for label, n, span in g.windows(50, times=("1d",), min_bars=10):
        g.add(
            f"trend_regime_{label}",
            lambda c, n=n: k.trend_regime(c.log_close, n),
            warmup=k.trend_regime_warmup(n),
            desc=f"trend regime -1 / 0 / +1: sign of the log-close OLS slope over {span} when |t| > 2",
        )
        g.add(
            f"trend_tstat_{label}",
            lambda c, n=n: k.rolling_slope_tstat(c.log_close, n),
            warmup=k.rolling_warmup(n),
            desc=f"t-statistic of the log-close OLS slope over {span}",
        )
    for n in HURST_WINDOWS:
        g.add(
            f"hurst_{n}",
            lambda c, n=n: k.rolling_hurst(c.log_close, n),
            warmup=k.hurst_warmup(n),
            desc=f"trailing Hurst exponent of log-price increments over {n} bars (aggregated variance)",
        )
