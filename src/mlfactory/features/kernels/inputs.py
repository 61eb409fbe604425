"""Boundary checks shared by every kernel: arrays, window lengths, price and volume domains."""

from __future__ import annotations

import numbers

import numpy as np

from mlfactory.errors import ConfigError, DataError


def as_series(x: object, name: str) -> np.ndarray:
    """``x`` as a contiguous 1-D float64 array, or ``DataError`` naming ``name``."""
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise DataError(f"{name}: expected a 1-D array of bars, got shape {arr.shape}; pass one column")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise DataError(f"{name}: expected numeric values, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.float64)


def as_bars(**arrays: object) -> list[np.ndarray]:
    """Convert every keyword array with ``as_series`` and check they share one length."""
    out = [as_series(v, k) for k, v in arrays.items()]
    lengths = {k: len(a) for k, a in zip(arrays, out, strict=True)}
    if len(set(lengths.values())) > 1:
        raise DataError(f"input arrays must have equal length (one row per bar), got {lengths}")
    return out


def check_window(window: object, name: str = "window", minimum: int = 2) -> int:
    """A window length in bars: an integer ``>= minimum``, else ``ConfigError``."""
    if isinstance(window, bool) or not isinstance(window, numbers.Integral):
        raise ConfigError(f"{name}: expected an integer number of bars, got {window!r}")
    if window < minimum:
        raise ConfigError(f"{name}: must be at least {minimum} bars, got {window}")
    return int(window)


def check_positive_prices(**arrays: np.ndarray) -> None:
    """Prices entering a logarithm must be finite and > 0; name the column and first bad bar."""
    for name, a in arrays.items():
        bad = ~(np.isfinite(a) & (a > 0))
        if bad.any():
            i = int(np.argmax(bad))
            raise DataError(
                f"{name}: log-price kernels need finite prices > 0, bar {i} has {a[i]!r}; "
                "fix or drop the bar upstream (data validation)"
            )


def check_volume(volume: np.ndarray, name: str = "volume") -> None:
    """Volume must be finite and >= 0 (zero is allowed and handled by each kernel)."""
    bad = ~(np.isfinite(volume) & (volume >= 0))
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"{name}: expected finite volume >= 0, bar {i} has {volume[i]!r}")


def log_returns(close: np.ndarray) -> np.ndarray:
    """``r[i] = ln(close[i] / close[i-1])``, ``r[0] = NaN`` (no previous bar)."""
    r = np.empty_like(close)
    r[0:1] = np.nan
    np.log(close[1:] / close[:-1], out=r[1:])
    return r


def first_difference(x: np.ndarray) -> np.ndarray:
    """``d[i] = x[i] - x[i-1]``, ``d[0] = NaN``."""
    d = np.empty_like(x)
    d[0:1] = np.nan
    np.subtract(x[1:], x[:-1], out=d[1:])
    return d
