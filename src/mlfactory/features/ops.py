"""Small causal array operations shared by the feature groups (numpy / polars / TA-Lib).

Every function maps a float64 array to one of the same length whose value at ``i`` depends on
inputs at ``<= i`` only; undefined leading values are NaN.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import polars as pl
import talib
from talib import abstract

from mlfactory.features import kernels

# the start-free rolling sums (double-double prefix sums), re-exported with the other array ops
from mlfactory.features.kernels import rolling_mean as rolling_mean
from mlfactory.features.kernels import rolling_sum as rolling_sum


def lag(x: np.ndarray, k: int) -> np.ndarray:
    """``x`` shifted ``k`` bars into the future (value at i is x[i-k]); NaN for the first k."""
    out = np.full_like(x, np.nan, dtype=np.float64)
    if k < len(x):
        out[k:] = x[: len(x) - k]
    return out


def diff(x: np.ndarray, k: int) -> np.ndarray:
    """``x[i] - x[i-k]``."""
    return x - lag(x, k)


def forward_fill(x: np.ndarray) -> np.ndarray:
    """Carry the last non-NaN value forward (leading NaN stay NaN)."""
    idx = np.where(np.isnan(x), 0, np.arange(len(x)))
    np.maximum.accumulate(idx, out=idx)
    return x[idx]  # before the first valid value idx is 0 and x[0] is NaN


def safe_div(
    num: np.ndarray, den: np.ndarray, fill: float = 0.0, eps: float | np.ndarray = 0.0
) -> np.ndarray:
    """``num / den`` with ``fill`` where ``|den| <= eps`` (a flat window); NaN inputs stay NaN.

    ``eps`` may be an array (a per-row tolerance computed from past values only).
    """
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / den
    flat = np.abs(den) <= eps  # False where den is NaN
    if flat.any():
        out[flat & ~np.isnan(num)] = fill
    return out


def log_ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``log(a / b)`` for positive arrays (NaN propagates)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.log(a) - np.log(b)


def rolling_std(x: np.ndarray, n: int) -> np.ndarray:
    """Sample standard deviation (ddof=1) over the last ``n`` values."""
    return pl.Series(x).rolling_std(n).to_numpy()


def rolling_max(x: np.ndarray, n: int) -> np.ndarray:
    return pl.Series(x).rolling_max(n).to_numpy()


def rolling_min(x: np.ndarray, n: int) -> np.ndarray:
    return pl.Series(x).rolling_min(n).to_numpy()


def rolling_moment(x: np.ndarray, n: int, moment: str) -> np.ndarray:
    """Rolling ``"skew"`` or ``"kurtosis"`` (excess) over the last ``n`` values; 0 in a flat window."""
    s = pl.Series(x)
    value = (s.rolling_skew(n) if moment == "skew" else s.rolling_kurtosis(n)).to_numpy()
    flat = s.rolling_std(n).to_numpy() == 0.0
    return np.where(flat, 0.0, value)


def range_position(x: np.ndarray, high: np.ndarray, low: np.ndarray, n: int) -> np.ndarray:
    """Where ``x`` sits in the ``n``-bar high–low channel: 0 at the low, 1 at the high (0.5 if flat)."""
    hh = rolling_max(high, n)
    ll = rolling_min(low, n)
    return safe_div(x - ll, hh - ll, fill=0.5)


def segment_cumsum(x: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Cumulative sum of ``x`` restarting whenever ``key`` changes (contiguous segments).

    Each segment is summed from its own first value, so a segment's sums do not depend on what came
    before it (a running total differenced at the segment start would carry its rounding): the live
    predictor's tail, which starts before the session, gives the batch values bit for bit.
    """
    x = np.asarray(x, dtype=np.float64)
    start = np.empty(len(x), dtype=np.bool_)
    start[:1] = True
    np.not_equal(key[1:], key[:-1], out=start[1:])
    return kernels.segment_cumsum(x, start)


def ta(name: str, *arrays: np.ndarray, **params: float) -> np.ndarray | tuple[np.ndarray, ...]:
    """Call the TA-Lib function ``name`` on float64 arrays."""
    return getattr(talib, name)(*arrays, **params)


@lru_cache(maxsize=4096)
def _lookback(name: str, params: tuple[tuple[str, float], ...]) -> int:
    return int(abstract.Function(name, **dict(params)).lookback)


def ta_lookback(name: str, **params: float) -> int:
    """TA-Lib's lookback for ``name``: the index of its first defined output."""
    return _lookback(name, tuple(sorted(params.items())))
