"""The sampling uncertainty of a Sharpe ratio: its standard error and a block-bootstrap interval.

**Standard error under non-normal returns** (Lo 2002, Mertens 2002). For ``T`` i.i.d. returns with
per-period Sharpe ``SR``, skewness ``γ3`` and *Pearson* kurtosis ``γ4`` (3 for normal returns):
``SE(SR) = sqrt((1 - γ3·SR + (γ4 - 1)/4 · SR²) / (T - 1))``, the same denominator as the
probabilistic Sharpe ratio. An annualised Sharpe ``SR × sqrt(P)`` (``P`` periods a year) has the
annualised error ``SE × sqrt(P)``.

**Block-bootstrap interval.** Returns of a strategy that holds a position for ``h`` bars are
serially correlated over about ``h`` bars, which the i.i.d. formula ignores. The moving-block
bootstrap (Künsch 1989) resamples blocks of ``L`` consecutive returns (start drawn uniformly among
the ``T - L + 1`` blocks, blocks concatenated and cut to ``T``), recomputes the Sharpe on each of
``n_resamples`` series, and reports the 2.5 % and 97.5 % percentiles. ``L = max(h, ⌈T^(1/3)⌉)``
(the horizon, or the usual ``T^(1/3)`` rate when that is longer), at most ``T``. Seeded: the
same returns and seed give the same interval.

A constant series (e.g. never trading) has no sampling error: SE 0, interval [SR, SR].
"""

from __future__ import annotations

import math

import numpy as np

from mlfactory.errors import DataError
from mlfactory.evaluation.overfitting import sharpe_ratio_moments

BOOTSTRAP_RESAMPLES = 1000
CONFIDENCE = 0.95
_MAX_CELLS = 4_000_000  # resampled returns held at once


def sharpe_standard_error(sr: float, n_obs: int, skew: float, kurt: float) -> float:
    """Standard error of a per-period Sharpe ``sr`` (Lo/Mertens; ``kurt`` Pearson, not excess)."""
    if n_obs < 2:
        raise DataError(f"n_obs: need at least 2 returns for a Sharpe standard error, got {n_obs}")
    variance = 1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr**2
    if variance < 0:
        raise DataError(
            f"skew={skew}, kurt={kurt}: impossible moments (Pearson kurtosis must be >= 1 + skew²)"
        )
    return float(math.sqrt(variance / (n_obs - 1.0)))


def returns_sharpe_standard_error(returns: np.ndarray) -> float:
    """Per-period Sharpe standard error of a return series, from its own moments (0 when constant)."""
    r = np.asarray(returns, dtype=np.float64)
    if r.std() == 0:
        return 0.0
    m = sharpe_ratio_moments(r)
    return sharpe_standard_error(m["sr"], r.shape[0], m["skew"], m["kurt"])


def bootstrap_block_length(n_obs: int, horizon: int | None) -> int:
    """Block length ``max(horizon, ⌈T^(1/3)⌉)``, capped at ``T``."""
    return int(min(n_obs, max(horizon or 1, math.ceil(n_obs ** (1.0 / 3.0)))))


def block_bootstrap_sharpes(
    returns: np.ndarray, block_length: int, *, n_resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0
) -> np.ndarray:
    """Per-period Sharpe of each moving-block bootstrap resample of ``returns`` (0 for a constant one).

    Each resample's sum and sum of squares are added up from per-block sums (prefix sums of the
    centred returns), so the cost is one term per block, not per return.
    """
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 1 or r.shape[0] < 2 or not np.isfinite(r).all():
        raise DataError(f"returns: need a 1-D array of at least 2 finite returns, got shape {r.shape}")
    t = r.shape[0]
    if not 1 <= block_length <= t:
        raise DataError(f"block_length: must be between 1 and {t}, got {block_length}")
    rng = np.random.default_rng(seed)
    n_blocks = -(-t // block_length)
    last = t - (n_blocks - 1) * block_length  # the last block is cut to fit T
    centre = r.mean()
    c = r - centre
    s1 = np.concatenate(([0.0], np.cumsum(c)))
    s2 = np.concatenate(([0.0], np.cumsum(c * c)))
    n_starts = t - block_length + 1
    full = (
        s1[block_length : block_length + n_starts] - s1[:n_starts],
        s2[block_length : block_length + n_starts] - s2[:n_starts],
    )
    tail = (s1[last : last + n_starts] - s1[:n_starts], s2[last : last + n_starts] - s2[:n_starts])
    tol = 1e-6 * np.sqrt(s2[-1] / t + centre**2)  # below this a resample is constant up to rounding
    out = []
    chunk = max(1, _MAX_CELLS // n_blocks)
    for lo in range(0, n_resamples, chunk):
        starts = rng.integers(0, n_starts, size=(min(chunk, n_resamples - lo), n_blocks))
        sum1 = full[0][starts[:, :-1]].sum(axis=1) + tail[0][starts[:, -1]]
        sum2 = full[1][starts[:, :-1]].sum(axis=1) + tail[1][starts[:, -1]]
        mean_c = sum1 / t
        std = np.sqrt(np.maximum(sum2 - t * mean_c**2, 0.0) / (t - 1))
        with np.errstate(divide="ignore", invalid="ignore"):
            out.append(np.where(std > tol, (mean_c + centre) / std, 0.0))
    return np.concatenate(out)


def block_bootstrap_sharpe_interval(
    returns: np.ndarray,
    block_length: int,
    *,
    n_resamples: int = BOOTSTRAP_RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile interval of the per-period Sharpe from a moving-block bootstrap."""
    sharpes = block_bootstrap_sharpes(returns, block_length, n_resamples=n_resamples, seed=seed)
    tail = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(sharpes, [tail, 1.0 - tail])
    return float(lo), float(hi)


def sharpe_uncertainty(
    returns: np.ndarray, periods_per_year: float, *, horizon: int | None = None, seed: int = 0
) -> dict[str, float | int]:
    """Annualised Sharpe standard error and 95 % block-bootstrap interval of per-period ``returns``."""
    r = np.asarray(returns, dtype=np.float64)
    scale = math.sqrt(periods_per_year)
    block = bootstrap_block_length(r.shape[0], horizon)
    lo, hi = block_bootstrap_sharpe_interval(r, block, seed=seed)
    return {
        "sharpe_se": returns_sharpe_standard_error(r) * scale,
        "sharpe_ci_low": lo * scale,
        "sharpe_ci_high": hi * scale,
        "sharpe_ci_level": CONFIDENCE,
        "sharpe_bootstrap_block": block,
    }


def format_sharpe(metrics: dict, digits: int = 2) -> str:
    """``"1.23 ± 0.45 [0.40, 2.10]"`` from a metrics dict with ``sharpe`` and its uncertainty fields."""
    sr = metrics.get("sharpe")
    if sr is None:
        return "n/a"
    text = _number(sr, digits)
    if metrics.get("sharpe_se") is not None:
        text += f" ± {_number(metrics['sharpe_se'], digits)}"
    if metrics.get("sharpe_ci_low") is not None:
        text += (
            f" [{_number(metrics['sharpe_ci_low'], digits)}, {_number(metrics['sharpe_ci_high'], digits)}]"
        )
    if metrics.get("costs") == "none":  # the run was told --no-costs: never let that pass unseen
        text += " (no costs)"
    return text


def _number(x: float, digits: int) -> str:
    if math.isnan(x):
        return "n/a"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    return f"{x:.{digits}f}"
