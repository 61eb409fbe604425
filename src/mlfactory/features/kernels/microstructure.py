"""Bid-ask spread and price-impact estimators from OHLCV bars over a trailing window.

References: Roll (1984); Corwin & Schultz (2012), "A simple way to estimate bid-ask spreads from
daily high and low prices"; Amihud (2002); Kyle (1985), as estimated in AFML ch. 19.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from mlfactory.features.kernels.inputs import (
    as_bars,
    check_positive_prices,
    check_volume,
    check_window,
    first_difference,
    log_returns,
)
from mlfactory.features.kernels.rolling import rolling_comoments, rolling_mean_m2

_CS_DENOM = 3.0 - 2.0 * np.sqrt(2.0)


def roll_spread_warmup(window: int, **_: object) -> int:
    """Each pair (Δp_t, Δp_{t-1}) needs two previous closes: the first ``window + 1`` bars are NaN."""
    return window + 1


def change_warmup(window: int, **_: object) -> int:
    """Corwin-Schultz, Amihud, Kyle: each term needs the previous bar, so ``window`` bars are NaN."""
    return window


def roll_spread(close: np.ndarray, window: int) -> np.ndarray:
    """Roll's effective spread in price units: ``2·sqrt(-cov(Δp_t, Δp_{t-1}))``.

    The covariance is the sample serial covariance (ddof=1) of the last ``window`` pairs. Roll's
    model only explains negative serial covariance (bid-ask bounce); when it is >= 0 the spread
    is reported as 0 rather than NaN (a trending window, not a missing value).
    """
    w = check_window(window)
    (c,) = as_bars(close=close)
    dp = first_difference(c)
    lagged = np.empty_like(dp)
    lagged[0:1] = np.nan
    lagged[1:] = dp[:-1]
    _, _, _, _, cxy = rolling_comoments(dp, lagged, w)
    cov = cxy / (w - 1)
    return 2.0 * np.sqrt(np.maximum(-cov, 0.0))


def corwin_schultz_spread(high: np.ndarray, low: np.ndarray, window: int) -> np.ndarray:
    """Corwin-Schultz relative spread, mean of the last ``window`` two-bar estimates.

    For each bar t >= 1: ``β = ln(H_t/L_t)² + ln(H_{t-1}/L_{t-1})²``,
    ``γ = ln(max(H_t, H_{t-1}) / min(L_t, L_{t-1}))²``,
    ``α = (sqrt(2β) - sqrt(β)) / (3 - 2√2) - sqrt(γ / (3 - 2√2))`` and
    ``S = 2(e^α - 1) / (1 + e^α)``; negative two-bar estimates are set to 0 before averaging
    (as in the paper). No overnight-gap adjustment is made.
    """
    w = check_window(window, minimum=1)
    h, lo = as_bars(high=high, low=low)
    check_positive_prices(high=h, low=lo)
    hl2 = np.log(h / lo) ** 2
    beta = np.empty_like(h)
    gamma = np.empty_like(h)
    beta[0:1] = np.nan
    gamma[0:1] = np.nan
    beta[1:] = hl2[1:] + hl2[:-1]
    gamma[1:] = np.log(np.maximum(h[1:], h[:-1]) / np.minimum(lo[1:], lo[:-1])) ** 2
    alpha = (np.sqrt(2.0 * beta) - np.sqrt(beta)) / _CS_DENOM - np.sqrt(gamma / _CS_DENOM)
    ea = np.exp(alpha)
    spread = np.maximum(2.0 * (ea - 1.0) / (1.0 + ea), 0.0)
    return rolling_mean_m2(spread, w)[0]


@njit(cache=True)
def _rolling_mean_where(values, include, w):
    """Mean of ``values[j]`` over included bars of the trailing window; NaN if the window has a
    NaN value or no included bar. Sums are recomputed exactly every ``w`` bars."""
    n = values.shape[0]
    out = np.full(n, np.nan)
    last_bad = -1
    since = w
    total = 0.0
    count = 0
    for i in range(n):
        if np.isnan(values[i]):
            last_bad = i
            since = w
            continue
        if i - last_bad < w:
            continue
        if since >= w:
            total = 0.0
            count = 0
            for j in range(i - w + 1, i + 1):
                if include[j]:
                    total += values[j]
                    count += 1
            since = 1
        else:
            if include[i]:
                total += values[i]
                count += 1
            if include[i - w]:
                total -= values[i - w]
                count -= 1
            since += 1
        if count > 0:
            out[i] = total / count
    return out


def amihud_illiquidity(close: np.ndarray, volume: np.ndarray, window: int) -> np.ndarray:
    """Amihud illiquidity: mean of ``|ln(C_t/C_{t-1})| / (C_t · V_t)`` over the last ``window`` bars.

    Dollar volume is ``close × volume`` (the contract multiplier is a constant factor, left out).
    Bars with zero volume have no defined price impact and are left out of the mean; a window
    in which no bar traded gives NaN (the only NaN after the warm-up).
    """
    w = check_window(window, minimum=1)
    c, v = as_bars(close=close, volume=volume)
    check_positive_prices(close=c)
    check_volume(v)
    traded = v > 0.0
    r = log_returns(c)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.abs(r) / (c * v)
    ratio[~traded & np.isfinite(r)] = 0.0  # excluded below (0/0 included); keep the array finite
    return _rolling_mean_where(ratio, traded, w)


def kyle_lambda(close: np.ndarray, volume: np.ndarray, window: int) -> np.ndarray:
    """Kyle's lambda: OLS slope of ``Δp_t`` on signed volume ``sign(Δp_t)·V_t`` over ``window`` bars.

    Price change per contract traded, in price units. A window whose signed volume is constant
    (e.g. no price change at all) has no defined slope and gives 0.
    """
    w = check_window(window)
    c, v = as_bars(close=close, volume=volume)
    check_volume(v)
    dp = first_difference(c)
    signed_volume = np.sign(dp) * v
    _, _, vx, _, cxy = rolling_comoments(signed_volume, dp, w)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = cxy / vx
    return np.where(vx == 0.0, 0.0 * cxy, slope)
