"""Market regimes from trailing windows: volatility level, trend, and the Hurst exponent."""

from __future__ import annotations

import numbers

import numpy as np
from numba import njit
from scipy.special import digamma

from mlfactory.errors import ConfigError
from mlfactory.features.kernels.inputs import as_series, check_window, first_difference
from mlfactory.features.kernels.rolling import rolling_percentile_rank, rolling_slope_tstat
from mlfactory.features.kernels.volatility_estimators import realised_volatility

LOW, MID, HIGH = 0.0, 1.0, 2.0
_HURST_MIN_BLOCKS = 8  # fewest aggregated blocks whose variance enters the fit
_HURST_MIN_WINDOW = 4 * _HURST_MIN_BLOCKS  # gives at least three scales (1, 2, 4)


def volatility_regime_warmup(vol_window: int, rank_window: int, **_: object) -> int:
    """Realised vol needs ``vol_window`` bars, then its rank ``rank_window - 1`` more."""
    return vol_window + rank_window - 1


def trend_regime_warmup(window: int, **_: object) -> int:
    """The first ``window - 1`` bars are NaN."""
    return window - 1


def hurst_warmup(window: int, **_: object) -> int:
    """``window`` increments need ``window + 1`` levels: the first ``window`` bars are NaN."""
    return window


def volatility_regime(close: np.ndarray, vol_window: int, rank_window: int) -> np.ndarray:
    """0 / 1 / 2 (low / mid / high): trailing percentile rank of realised volatility.

    The realised volatility over ``vol_window`` bars is ranked within its own last ``rank_window``
    values (``rolling_percentile_rank``); rank < 1/3 is low, < 2/3 mid, else high.
    """
    check_window(vol_window, "vol_window")
    check_window(rank_window, "rank_window")
    rank = rolling_percentile_rank(realised_volatility(close, vol_window), rank_window)
    regime = np.where(rank < 1.0 / 3.0, LOW, np.where(rank < 2.0 / 3.0, MID, HIGH))
    return np.where(np.isnan(rank), np.nan, regime)


def trend_regime(x: np.ndarray, window: int, t_threshold: float = 2.0) -> np.ndarray:
    """-1 / 0 / +1: sign of the trailing OLS slope of ``x`` (pass log close) when its |t| > ``t_threshold``."""
    if not (isinstance(t_threshold, numbers.Real) and t_threshold > 0):
        raise ConfigError(f"t_threshold: must be a positive number, got {t_threshold!r}")
    t = rolling_slope_tstat(x, window)
    regime = np.where(t > t_threshold, 1.0, np.where(t < -t_threshold, -1.0, 0.0))
    return np.where(np.isnan(t), np.nan, regime)


@njit(cache=True)
def _rolling_hurst(dx, w, scales, centred_log_scales, bias):
    n = dx.shape[0]
    out = np.full(n, np.nan)
    denom = 0.0
    for s in range(scales.shape[0]):
        denom += centred_log_scales[s] * centred_log_scales[s]
    cs = np.empty(w + 1)
    last_bad = -1
    for i in range(n):
        if not np.isfinite(dx[i]):
            last_bad = i
            continue
        if i - last_bad < w:
            continue
        cs[0] = 0.0
        for j in range(w):
            cs[j + 1] = cs[j] + dx[i - w + 1 + j]
        num = 0.0
        degenerate = False
        for s in range(scales.shape[0]):
            m = scales[s]
            nb = w // m
            start = w - nb * m  # blocks end at the newest bar; the oldest remainder is unused
            mean = (cs[w] - cs[start]) / nb
            ss = 0.0
            for b in range(nb):
                dev = cs[start + (b + 1) * m] - cs[start + b * m] - mean
                ss += dev * dev
            if ss <= 0.0:
                degenerate = True
                break
            num += centred_log_scales[s] * (np.log(ss / (nb - 1)) - bias[s])
        out[i] = 0.5 if degenerate else 0.5 * num / denom
    return out


def hurst_scales(window: int) -> np.ndarray:
    """Aggregation scales (bars per block) used for ``window``: 1, 2, 4, … with >= 8 blocks each."""
    scales = [1]
    while window // (scales[-1] * 2) >= _HURST_MIN_BLOCKS:
        scales.append(scales[-1] * 2)
    return np.asarray(scales, dtype=np.int64)


def rolling_hurst(x: np.ndarray, window: int) -> np.ndarray:
    """Trailing Hurst exponent of the increments of ``x`` (pass log close), aggregated-variance method.

    For each scale m in ``hurst_scales(window)`` the last ``window`` increments are summed in
    non-overlapping blocks of m bars (aligned to the newest bar); the sample variance of the block
    sums grows like ``m^(2H)``. ``H`` is half the OLS slope of log-variance on log m, after removing
    the small-sample bias of a log sample variance (``ψ(k/2) + ln(2/k)``, k = blocks - 1, exact for
    Gaussian increments), so i.i.d. increments give H ≈ 0.5 on average; persistent increments
    give H > 0.5, anti-persistent H < 0.5. Not clipped to [0, 1]. A window whose block variance
    is 0 at some scale (no price change) gives 0.5. O(n · window).
    """
    w = check_window(window, minimum=_HURST_MIN_WINDOW)
    xs = as_series(x, "x")
    scales = hurst_scales(w)
    log_scales = np.log(scales.astype(np.float64))
    dof = (w // scales - 1).astype(np.float64)
    bias = digamma(dof / 2.0) + np.log(2.0 / dof)
    return _rolling_hurst(first_difference(xs), w, scales, log_scales - log_scales.mean(), bias)
