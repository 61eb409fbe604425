"""Range-based and close-to-close volatility estimators over a trailing window.

All values are per-bar volatilities (standard deviations of log price per bar, not annualised;
the caller scales by ``sqrt(bars per year)`` from the instrument's session length). Prices must
be finite and > 0 (``DataError`` otherwise).

References: Parkinson (1980); Garman & Klass (1980); Rogers & Satchell (1991);
Yang & Zhang (2000), "Drift-independent volatility estimation based on high, low, open and close".
"""

from __future__ import annotations

import numpy as np

from mlfactory.features.kernels.inputs import as_bars, check_positive_prices, check_window, log_returns
from mlfactory.features.kernels.rolling import rolling_mean_m2

_LN2 = np.log(2.0)


def range_warmup(window: int, **_: object) -> int:
    """Parkinson, Garman-Klass, Rogers-Satchell: the first ``window - 1`` bars are NaN."""
    return window - 1


def close_to_close_warmup(window: int, **_: object) -> int:
    """Realised and Yang-Zhang volatility need the previous close: the first ``window`` bars are NaN."""
    return window


def _sqrt_mean(per_bar_variance: np.ndarray, window: int) -> np.ndarray:
    mean, _ = rolling_mean_m2(per_bar_variance, window)
    return np.sqrt(np.maximum(mean, 0.0))


def parkinson_volatility(high: np.ndarray, low: np.ndarray, window: int) -> np.ndarray:
    """``sqrt(mean(ln(H/L)²) / (4 ln 2))`` over the last ``window`` bars."""
    w = check_window(window, minimum=1)
    h, lo = as_bars(high=high, low=low)
    check_positive_prices(high=h, low=lo)
    hl = np.log(h / lo)
    return _sqrt_mean(hl * hl / (4.0 * _LN2), w)


def garman_klass_volatility(
    open: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, window: int
) -> np.ndarray:
    """``sqrt(mean(0.5·ln(H/L)² - (2 ln 2 - 1)·ln(C/O)²))`` over the last ``window`` bars."""
    w = check_window(window, minimum=1)
    o, h, lo, c = as_bars(open=open, high=high, low=low, close=close)
    check_positive_prices(open=o, high=h, low=lo, close=c)
    hl = np.log(h / lo)
    co = np.log(c / o)
    return _sqrt_mean(0.5 * hl * hl - (2.0 * _LN2 - 1.0) * co * co, w)


def _rogers_satchell_terms(o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray) -> np.ndarray:
    return np.log(h / c) * np.log(h / o) + np.log(lo / c) * np.log(lo / o)


def rogers_satchell_volatility(
    open: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, window: int
) -> np.ndarray:
    """``sqrt(mean(ln(H/C)·ln(H/O) + ln(L/C)·ln(L/O)))`` over the last ``window`` bars (drift-free)."""
    w = check_window(window, minimum=1)
    o, h, lo, c = as_bars(open=open, high=high, low=low, close=close)
    check_positive_prices(open=o, high=h, low=lo, close=c)
    return _sqrt_mean(_rogers_satchell_terms(o, h, lo, c), w)


def yang_zhang_volatility(
    open: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, window: int
) -> np.ndarray:
    """Yang-Zhang: ``sqrt(σ²_open + k·σ²_close + (1-k)·σ²_RS)`` over the last ``window`` bars.

    ``σ²_open`` is the sample variance of ``ln(O_t / C_{t-1})`` (the gap from the previous bar's
    close), ``σ²_close`` that of ``ln(C_t / O_t)``, ``σ²_RS`` the Rogers-Satchell mean, and
    ``k = 0.34 / (1.34 + (w + 1) / (w - 1))``.
    """
    w = check_window(window)
    o, h, lo, c = as_bars(open=open, high=high, low=low, close=close)
    check_positive_prices(open=o, high=h, low=lo, close=c)
    gap = np.empty_like(o)
    gap[0:1] = np.nan
    np.log(o[1:] / c[:-1], out=gap[1:])
    body = np.log(c / o)
    body[0:1] = np.nan  # every term starts on the first bar that has a previous close
    rs = _rogers_satchell_terms(o, h, lo, c)
    rs[0:1] = np.nan
    _, m2_gap = rolling_mean_m2(gap, w)
    _, m2_body = rolling_mean_m2(body, w)
    rs_mean, _ = rolling_mean_m2(rs, w)
    k = 0.34 / (1.34 + (w + 1) / (w - 1))
    var = m2_gap / (w - 1) + k * m2_body / (w - 1) + (1.0 - k) * rs_mean
    return np.sqrt(np.maximum(var, 0.0))


def realised_volatility(close: np.ndarray, window: int) -> np.ndarray:
    """Sample standard deviation (ddof=1) of the last ``window`` log returns."""
    w = check_window(window)
    (c,) = as_bars(close=close)
    check_positive_prices(close=c)
    _, m2 = rolling_mean_m2(log_returns(c), w)
    return np.sqrt(m2 / (w - 1))
