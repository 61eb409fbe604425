"""Fractional differentiation of log close with a fixed-width window (AFML ch. 5).

``fracdiff_logclose`` uses the smallest order ``d`` on ``D_GRID`` whose FFD series passes an ADF
test at 5% on the TRAINING rows (fitted state, see ``compute_features(fit_end=...)``); the
``_dXX`` variants use a fixed order and need no fitting. Every variant sums exactly the last
``WIDTH`` bars, so its warm-up does not depend on ``d``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlfactory.errors import ConfigError, DataError
from mlfactory.features import kernels as k
from mlfactory.features.context import BarContext
from mlfactory.features.spec import GroupBuilder

WIDTH = 100  # bars in the fixed FFD window
THRESHOLD = 1e-8  # weight cut-off; low enough that WIDTH binds for every fractional d on the grid
D_GRID = tuple(round(0.05 * i, 2) for i in range(1, 21))  # 0.05 … 1.0
ADF_PVALUE = 0.05
FIXED_ORDERS = (0.3, 0.5)


def ffd_fixed_width(x: np.ndarray, d: float) -> np.ndarray:
    """FFD of ``x`` over exactly the last ``WIDTH`` bars (NaN before, whatever the weights' length)."""
    out = k.frac_diff_ffd(x, d, threshold=THRESHOLD, max_width=WIDTH)
    out[: WIDTH - 1] = np.nan
    return out


def fit_order(c: BarContext, n_fit: int) -> dict[str, Any]:
    """Choose ``d`` on the first ``n_fit`` rows (the training rows) of log close."""
    if n_fit < WIDTH + 50:
        raise DataError(
            f"fracdiff_logclose on {c.tf}: {n_fit} training rows up to fit_end, need at least {WIDTH + 50} "
            "to choose d by an ADF test; move fit_end later or use a finer timeframe"
        )
    try:
        choice = k.find_min_ffd_d(
            c.log_close[:n_fit], D_GRID, adf_pvalue=ADF_PVALUE, threshold=THRESHOLD, max_width=WIDTH
        )
    except ConfigError as exc:
        raise DataError(f"fracdiff_logclose on {c.tf}: {exc}") from exc
    return {
        "d": choice.d,
        "adf_pvalue": choice.adf_pvalue,
        "width": WIDTH,
        "n_fit_rows": int(n_fit),
        "tried": [[d, p] for d, p in choice.tried],
    }


def _fitted_order(c: BarContext) -> float:
    state = c.state["fracdiff_logclose"]
    if state.get("width") != WIDTH or "d" not in state:
        raise ConfigError(
            f"fitted state for fracdiff_logclose is {state!r}; it was fitted with another window width "
            f"(expected width {WIDTH}): refit it with fit_end"
        )
    return float(state["d"])


def build(g: GroupBuilder) -> None:
    g.add(
        "fracdiff_logclose",
        lambda c: ffd_fixed_width(c.log_close, _fitted_order(c)),
        warmup=WIDTH - 1,
        fit=fit_order,
        desc=f"FFD of log close, {WIDTH}-bar window, smallest d passing ADF (p < {ADF_PVALUE}) on training rows",
    )
    for d in FIXED_ORDERS:
        g.add(
            f"fracdiff_logclose_d{round(d * 10):02d}",
            lambda c, d=d: ffd_fixed_width(c.log_close, d),
            warmup=WIDTH - 1,
            desc=f"FFD of log close with d = {d}, {WIDTH}-bar window",
        )
