"""Trailing-window statistics: sum, mean, std, z-score, percentile rank, linear-regression slope and R².

Every value at bar ``i`` uses the window ``[i - window + 1, i]`` only. A window that holds a
non-finite value gives NaN; the output recovers once that value has left the window. On finite
inputs the first ``window - 1`` values are NaN (``rolling_warmup``).

The O(n) kernels keep running sums of deviations from a pivot (the window mean at the last exact
recompute) and recompute them exactly every ``window`` bars, so rounding error never accumulates
over the series and catastrophic cancellation (prices near 4000, variance near 0.01) is avoided.
A window whose spread is below ~1e-7 of its mean level is treated as constant: its variance is
exactly 0 (degenerate windows get the documented value instead of rounding noise).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from mlfactory.features.kernels.inputs import as_bars, as_series, check_window

# Squared-deviation sums below this fraction of ``window * mean**2`` are rounding noise.
_CONSTANT_REL = 1e-14
# 1 - R² is floored here so a perfectly linear window gives a large finite t-statistic.
_MIN_UNEXPLAINED = 1e-12


def rolling_warmup(window: int, **_: object) -> int:
    """Leading NaN bars of every ``rolling_*`` kernel on finite input."""
    return window - 1


@njit(cache=True)
def rolling_mean_m2(x, w):
    """Trailing mean and sum of squared deviations from it (NaN where the window is not all finite)."""
    n = x.shape[0]
    mean = np.full(n, np.nan)
    m2 = np.full(n, np.nan)
    last_bad = -1
    since = w  # bars since the last exact recompute; >= w forces one
    pivot = 0.0
    s1 = 0.0
    s2 = 0.0
    for i in range(n):
        if not np.isfinite(x[i]):
            last_bad = i
            since = w
            continue
        if i - last_bad < w:
            continue
        if since >= w:
            pivot = 0.0
            for j in range(i - w + 1, i + 1):
                pivot += x[j]
            pivot /= w
            s1 = 0.0
            s2 = 0.0
            for j in range(i - w + 1, i + 1):
                d = x[j] - pivot
                s1 += d
                s2 += d * d
            since = 1
        else:
            d_in = x[i] - pivot
            d_out = x[i - w] - pivot
            s1 += d_in - d_out
            s2 += d_in * d_in - d_out * d_out
            since += 1
        mu = pivot + s1 / w
        v = s2 - s1 * s1 / w
        if v <= _CONSTANT_REL * w * mu * mu or v < 0.0:
            v = 0.0
        mean[i] = mu
        m2[i] = v
    return mean, m2


@njit(cache=True)
def rolling_comoments(x, y, w):
    """Trailing means, squared-deviation sums and cross-deviation sum of the pairs (x, y)."""
    n = x.shape[0]
    mx = np.full(n, np.nan)
    my = np.full(n, np.nan)
    vx = np.full(n, np.nan)
    vy = np.full(n, np.nan)
    cxy = np.full(n, np.nan)
    last_bad = -1
    since = w
    px = 0.0
    py = 0.0
    sx = 0.0
    sy = 0.0
    sxx = 0.0
    syy = 0.0
    sxy = 0.0
    for i in range(n):
        if not (np.isfinite(x[i]) and np.isfinite(y[i])):
            last_bad = i
            since = w
            continue
        if i - last_bad < w:
            continue
        if since >= w:
            px = 0.0
            py = 0.0
            for j in range(i - w + 1, i + 1):
                px += x[j]
                py += y[j]
            px /= w
            py /= w
            sx = 0.0
            sy = 0.0
            sxx = 0.0
            syy = 0.0
            sxy = 0.0
            for j in range(i - w + 1, i + 1):
                dx = x[j] - px
                dy = y[j] - py
                sx += dx
                sy += dy
                sxx += dx * dx
                syy += dy * dy
                sxy += dx * dy
            since = 1
        else:
            dx_in = x[i] - px
            dy_in = y[i] - py
            dx_out = x[i - w] - px
            dy_out = y[i - w] - py
            sx += dx_in - dx_out
            sy += dy_in - dy_out
            sxx += dx_in * dx_in - dx_out * dx_out
            syy += dy_in * dy_in - dy_out * dy_out
            sxy += dx_in * dy_in - dx_out * dy_out
            since += 1
        mux = px + sx / w
        muy = py + sy / w
        v_x = sxx - sx * sx / w
        v_y = syy - sy * sy / w
        if v_x <= _CONSTANT_REL * w * mux * mux or v_x < 0.0:
            v_x = 0.0
        if v_y <= _CONSTANT_REL * w * muy * muy or v_y < 0.0:
            v_y = 0.0
        mx[i] = mux
        my[i] = muy
        vx[i] = v_x
        vy[i] = v_y
        cxy[i] = sxy - sx * sy / w
    return mx, my, vx, vy, cxy


@njit(cache=True)
def _rolling_percentile_rank(x, w):
    n = x.shape[0]
    out = np.full(n, np.nan)
    last_bad = -1
    for i in range(n):
        if not np.isfinite(x[i]):
            last_bad = i
            continue
        if i - last_bad < w:
            continue
        less = 0
        equal = 0
        for j in range(i - w + 1, i + 1):
            if x[j] < x[i]:
                less += 1
            elif x[j] == x[i]:
                equal += 1
        # mid-rank of x[i] among the window, scaled to [0, 1]
        out[i] = (less + 0.5 * (equal - 1)) / (w - 1)
    return out


@njit(cache=True)
def _window_sums(x, w):
    """Trailing sums from double-double prefix sums (Knuth's two-sum): each window sum is the exact
    one rounded once, in practice, so it does not depend on how many values came before it."""
    n = x.shape[0]
    hi = np.empty(n + 1)
    lo = np.empty(n + 1)
    bad = np.empty(n + 1, dtype=np.int64)
    hi[0] = 0.0
    lo[0] = 0.0
    bad[0] = 0
    h = 0.0
    low = 0.0
    nbad = 0
    for i in range(n):
        v = x[i]
        if np.isfinite(v):
            s = h + v
            bv = s - h
            err = (h - (s - bv)) + (v - bv)
            low += err
            h = s + low  # renormalise so that |low| stays below half an ulp of h
            low = low - (h - s)
        else:
            nbad += 1
        hi[i + 1] = h
        lo[i + 1] = low
        bad[i + 1] = nbad
    out = np.full(n, np.nan)
    for i in range(w - 1, n):
        if bad[i + 1] != bad[i + 1 - w]:
            continue
        a = hi[i + 1]
        b = -hi[i + 1 - w]
        s = a + b
        bv = s - a
        err = (a - (s - bv)) + (b - bv)
        out[i] = s + (err + (lo[i + 1] - lo[i + 1 - w]))
    return out


@njit(cache=True)
def segment_cumsum(x, start):
    """Cumulative sum of ``x`` restarting at each row where ``start`` is True (row 0 always starts)."""
    out = np.empty(x.shape[0])
    total = 0.0
    for i in range(x.shape[0]):
        total = x[i] if (i == 0 or start[i]) else total + x[i]
        out[i] = total
    return out


def rolling_sum(x: np.ndarray, window: int) -> np.ndarray:
    """Sum of the last ``window`` values (NaN where the window holds a non-finite value).

    Computed from double-double prefix sums (~106 bits): each window's sum is its exact sum rounded
    once (``math.fsum``) while the series' magnitudes span less than ~2**100 — any price, volume or
    return series — so the same window gives the same bits however long the series before it, and
    a live tail reproduces the batch values (a running add/subtract sum carries the rounding of
    every value it has seen).
    """
    w = check_window(window, minimum=1)
    return _window_sums(as_series(x, "x"), w)


def rolling_mean(x: np.ndarray, window: int) -> np.ndarray:
    """Mean of the last ``window`` values (``rolling_sum / window``)."""
    return rolling_sum(x, window) / window


def rolling_std(x: np.ndarray, window: int) -> np.ndarray:
    """Sample standard deviation (ddof=1) of the last ``window`` values."""
    w = check_window(window)
    _, m2 = rolling_mean_m2(as_series(x, "x"), w)
    return np.sqrt(m2 / (w - 1))


def rolling_zscore(x: np.ndarray, window: int) -> np.ndarray:
    """``(x[i] - mean) / std`` over the window ending at ``i`` (sample std); 0 for a constant window."""
    w = check_window(window)
    xs = as_series(x, "x")
    mean, m2 = rolling_mean_m2(xs, w)
    std = np.sqrt(m2 / (w - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (xs - mean) / std
    return np.where(std == 0.0, 0.0 * mean, z)  # 0*mean keeps the warm-up NaN


def rolling_percentile_rank(x: np.ndarray, window: int) -> np.ndarray:
    """Trailing percentile of the newest value within its window, in [0, 1].

    Mid-rank convention: ``(#{x_j < x_i} + (#{x_j == x_i} - 1) / 2) / (window - 1)`` over the
    window, so the strict minimum is 0, the strict maximum 1 and an all-equal window 0.5.
    O(n · window).
    """
    w = check_window(window)
    return _rolling_percentile_rank(as_series(x, "x"), w)


def _trend_moments(x: np.ndarray, window: int) -> tuple[np.ndarray, ...]:
    w = check_window(window, minimum=3)
    xs = as_series(x, "x")
    t = np.arange(len(xs), dtype=np.float64)
    return rolling_comoments(t, xs, w)


def rolling_slope(x: np.ndarray, window: int) -> np.ndarray:
    """OLS slope of the last ``window`` values on the bar index (units of ``x`` per bar)."""
    _, _, vt, _, cty = _trend_moments(x, window)
    return cty / vt


def rolling_r2(x: np.ndarray, window: int) -> np.ndarray:
    """R² of the OLS line through the last ``window`` values against the bar index; 0 if constant."""
    _, _, vt, vy, cty = _trend_moments(x, window)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = cty * cty / (vt * vy)
    return np.where(vy == 0.0, 0.0 * vt, np.minimum(r2, 1.0))


def rolling_slope_tstat(x: np.ndarray, window: int) -> np.ndarray:
    """t-statistic of the trailing OLS slope on the bar index: ``r·sqrt((w-2)/(1-r²))``.

    0 for a constant window; ``1 - r²`` is floored at 1e-12 so a perfect line stays finite.
    """
    w = check_window(window, minimum=3)
    _, _, vt, vy, cty = _trend_moments(x, w)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = cty / np.sqrt(vt * vy)
    r = np.clip(np.where(vy == 0.0, 0.0 * vt, r), -1.0, 1.0)
    return r * np.sqrt((w - 2) / np.maximum(1.0 - r * r, _MIN_UNEXPLAINED))


def rolling_regression_slope(y: np.ndarray, x: np.ndarray, window: int) -> np.ndarray:
    """OLS slope (with intercept) of ``y`` on ``x`` over the last ``window`` pairs; 0 if ``x`` is constant."""
    w = check_window(window)
    ys, xs = as_bars(y=y, x=x)
    _, _, vx, _, cxy = rolling_comoments(xs, ys, w)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = cxy / vx
    return np.where(vx == 0.0, 0.0 * cxy, slope)
