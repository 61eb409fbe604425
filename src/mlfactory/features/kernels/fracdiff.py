"""Fixed-width-window fractional differentiation (FFD), López de Prado, AFML ch. 5.

``y_t = Σ_{k=0}^{K-1} w_k · x_{t-k}`` with ``w_0 = 1`` and ``w_k = -w_{k-1} (d - k + 1) / k``,
truncated where ``|w_k|`` falls below ``threshold`` (or at ``max_width`` weights). Each value uses
the last ``K`` inputs only, so the transform is causal; the first ``K - 1`` values are NaN.
The order ``d`` is chosen per series on training rows only (``find_min_ffd_d``) and then applied
to the whole series.
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from mlfactory.errors import ConfigError, DataError
from mlfactory.features.kernels.inputs import as_series, check_window

DEFAULT_THRESHOLD = 1e-4
_WEIGHT_CAP = 100_000  # a threshold this slow to reach is a configuration mistake
_MIN_ADF_ROWS = 50


def _check_order(d: object) -> float:
    if isinstance(d, bool) or not isinstance(d, numbers.Real) or not math.isfinite(d) or d < 0:
        raise ConfigError(f"d: the differentiation order must be a finite number >= 0, got {d!r}")
    return float(d)


def ffd_weights(d: float, threshold: float = DEFAULT_THRESHOLD, max_width: int | None = None) -> np.ndarray:
    """FFD weights in lag order (``w[k]`` multiplies ``x[t-k]``), ``w[0] = 1``.

    Weights are generated until ``|w_k| < threshold`` (that weight is excluded) or until
    ``max_width`` weights exist, whichever comes first.
    """
    d = _check_order(d)
    if not (isinstance(threshold, numbers.Real) and 0.0 < threshold < 1.0):
        raise ConfigError(f"threshold: must be a number in (0, 1), got {threshold!r}")
    cap = _WEIGHT_CAP if max_width is None else check_window(max_width, "max_width", minimum=1)
    weights = [1.0]
    k = 1
    while len(weights) < cap:
        w_k = -weights[-1] * (d - k + 1) / k
        if abs(w_k) < threshold:
            break
        weights.append(w_k)
        k += 1
    else:
        if max_width is None:
            raise ConfigError(
                f"threshold: {threshold} needs more than {_WEIGHT_CAP} FFD weights for d={d}; "
                "raise the threshold or pass max_width"
            )
    return np.asarray(weights, dtype=np.float64)


def ffd_warmup(
    d: float, threshold: float = DEFAULT_THRESHOLD, max_width: int | None = None, **_: object
) -> int:
    """Leading NaN bars of ``frac_diff_ffd``: the window width minus one."""
    return len(ffd_weights(d, threshold, max_width)) - 1


def frac_diff_ffd(
    x: np.ndarray, d: float, threshold: float = DEFAULT_THRESHOLD, max_width: int | None = None
) -> np.ndarray:
    """FFD of ``x`` (pass log prices) with order ``d``; NaN for the first ``width - 1`` bars."""
    xs = as_series(x, "x")
    weights = ffd_weights(d, threshold, max_width)
    out = np.full(len(xs), np.nan)
    width = len(weights)
    if len(xs) >= width:
        # np.convolve(x, w)[t] = Σ_k w[k]·x[t-k]: exactly the causal FFD sum; keep full windows only
        out[width - 1 :] = np.convolve(xs, weights, mode="valid")
    return out


@dataclass(frozen=True)
class FfdChoice:
    """The order chosen by ``find_min_ffd_d`` and the ADF evidence for every order tried."""

    d: float
    adf_pvalue: float
    width: int
    tried: tuple[tuple[float, float], ...]  # (d, ADF p-value) in the order tested


def find_min_ffd_d(
    x_train: np.ndarray,
    d_grid: Iterable[float],
    adf_pvalue: float = 0.05,
    threshold: float = DEFAULT_THRESHOLD,
    max_width: int | None = None,
) -> FfdChoice:
    """Smallest ``d`` on ``d_grid`` whose FFD of ``x_train`` rejects a unit root (ADF p < ``adf_pvalue``).

    ``x_train`` must be the TRAINING rows only (e.g. log close): the chosen order is a fitted
    statistic. The ADF test is AFML's: constant, one lag (``maxlag=1, autolag=None``).
    Raises ``ConfigError`` if no order on the grid passes.
    """
    from statsmodels.tsa.stattools import adfuller

    # statsmodels >= 0.15 warns unless the return type is chosen; 0.14 has no such argument
    adf_kwargs = {"result_object": False} if "result_object" in inspect.signature(adfuller).parameters else {}
    grid = sorted(_check_order(d) for d in d_grid)
    if not grid:
        raise ConfigError("d_grid: empty; pass the candidate orders, e.g. 0.0, 0.1, ..., 1.0")
    if not 0.0 < adf_pvalue < 1.0:
        raise ConfigError(f"adf_pvalue: must be in (0, 1), got {adf_pvalue!r}")
    xs = as_series(x_train, "x_train")
    if not np.isfinite(xs).all():
        raise DataError("x_train: contains NaN or inf; pass the finite training rows (e.g. log close)")
    tried: list[tuple[float, float]] = []
    for d in grid:
        y = frac_diff_ffd(xs, d, threshold, max_width)
        y = y[~np.isnan(y)]
        if len(y) < _MIN_ADF_ROWS:
            raise DataError(
                f"x_train: {len(xs)} rows leave {len(y)} after the FFD warm-up for d={d} "
                f"(at least {_MIN_ADF_ROWS} needed); use more training rows or pass max_width"
            )
        pvalue = float(adfuller(y, maxlag=1, regression="c", autolag=None, **adf_kwargs)[1])
        tried.append((d, pvalue))
        if pvalue < adf_pvalue:
            return FfdChoice(
                d=d, adf_pvalue=pvalue, width=len(ffd_weights(d, threshold, max_width)), tried=tuple(tried)
            )
    raise ConfigError(
        f"d_grid: no order up to {grid[-1]} makes the FFD series stationary at ADF p < {adf_pvalue} "
        f"(p-values: {', '.join(f'{d:g}: {p:.3g}' for d, p in tried)}); extend the grid towards 1.0"
    )
