"""Overfitting statistics: the deflated Sharpe ratio and the probability of backtest overfitting.

**Deflated Sharpe ratio** (Bailey & López de Prado, 2014). All Sharpe ratios here are
*per observation* (not annualised), in the units of the ``n_obs`` returns: divide an annualised
Sharpe by ``sqrt(periods_per_year)`` and an annualised variance by ``periods_per_year``.

- Expected maximum Sharpe of ``N`` unskilled trials (Euler–Mascheroni approximation):
  ``SR0 = mean + sqrt(V) × ((1 - γ) Φ⁻¹(1 - 1/N) + γ Φ⁻¹(1 - 1/(N e)))``; ``SR0 = mean`` for N = 1.
- Probabilistic Sharpe ratio: ``PSR(SR*) = Φ((SR - SR*) sqrt(T - 1) / sqrt(1 - skew·SR + (kurt - 1)/4 · SR²))``
  with ``kurt`` the *Pearson* kurtosis (3 for normal returns, not the excess kurtosis).
- ``DSR = PSR(SR0)``: the probability that the true Sharpe exceeds what the best of ``N`` trials
  would show by luck alone.

**PBO via CSCV** (Bailey, Borwein, López de Prado & Zhu). ``perf_matrix`` is ``T × N``: per-period
returns of ``N`` configurations on the same ``T`` periods. The first ``T mod S`` rows are dropped so
the ``S`` contiguous blocks are equal. For each of the ``C(S, S/2)`` ways to pick half the blocks as
in-sample (IS; the rest is out-of-sample, OOS): the IS-best configuration ``n*`` (first on ties) is
ranked among all configurations OOS (average ranks, 1 = worst), ``ω = rank / (N + 1)`` and the logit
is ``λ = ln(ω / (1 - ω))``. PBO is the mass of the logit distribution below 0, Bailey et al.'s
``∫_{-∞}^0 f(λ) dλ`` (the IS winner falls below the OOS median).

*Tie rule.* With an odd number ``N`` of configurations the OOS median rank ``(N + 1) / 2`` gives
``λ = 0`` exactly, with probability ``1 / N`` under the null; counting it as overfit (``λ ≤ 0``, as
RiskLabAI does) puts the null PBO at ``(N + 1) / 2N`` — 0.67 for 3 candidates, 0.6 for 5. Here a
combination with ``λ = 0`` counts one half, ``PBO = P(λ < 0) + ½ P(λ = 0)``, so the null PBO is 0.5
for every ``N``. An IS tie is broken by the first configuration; OOS ties take their average rank. Performance degradation is the least-squares line of OOS on IS performance of ``n*``
across combinations, and ``prob_oos_loss`` the share of combinations where ``n*`` loses OOS.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from math import comb
from typing import Literal

import numpy as np
from scipy import stats
from scipy.special import ndtr, ndtri

from mlfactory.errors import ConfigError, DataError

EULER_GAMMA = float(np.euler_gamma)
PBOMetric = Literal["sharpe", "mean"]
_COMBINATION_CHUNK = 1024


def expected_maximum_sharpe_ratio(n_trials: int, var_trials_sr: float, mean_trials_sr: float = 0.0) -> float:
    """Expected maximum of ``n_trials`` Sharpe estimates with the given cross-trial mean and variance."""
    n = _check_trials(n_trials)
    if not (np.isfinite(var_trials_sr) and var_trials_sr >= 0):
        raise DataError(f"var_trials_sr: must be a finite variance >= 0, got {var_trials_sr!r}")
    if n == 1:
        return float(mean_trials_sr)
    z = (1.0 - EULER_GAMMA) * ndtri(1.0 - 1.0 / n) + EULER_GAMMA * ndtri(1.0 - 1.0 / (n * np.e))
    return float(mean_trials_sr + np.sqrt(var_trials_sr) * z)


def probabilistic_sharpe_ratio(sr: float, sr_benchmark: float, n_obs: int, skew: float, kurt: float) -> float:
    """Probability that the true (per-observation) Sharpe exceeds ``sr_benchmark`` (Pearson ``kurt``)."""
    if isinstance(n_obs, bool) or int(n_obs) != n_obs or n_obs < 2:
        raise DataError(f"n_obs: need a whole number of at least 2 return observations, got {n_obs!r}")
    if not all(np.isfinite(v) for v in (sr, sr_benchmark, skew, kurt)):
        raise DataError("sr, sr_benchmark, skew and kurt must be finite numbers")
    variance_term = 1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr**2
    if variance_term <= 0:
        raise DataError(
            f"skew={skew}, kurt={kurt}: impossible moments (Pearson kurtosis must be >= 1 + skew²); "
            "pass the Pearson (non-excess) kurtosis"
        )
    z = (sr - sr_benchmark) * np.sqrt(n_obs - 1.0) / np.sqrt(variance_term)
    return float(ndtr(z))


def deflated_sharpe_ratio(
    sr: float, n_trials: int, var_trials_sr: float, n_obs: int, skew: float, kurt: float
) -> float:
    """DSR: the PSR of ``sr`` against the expected maximum Sharpe of ``n_trials`` unskilled trials."""
    sr0 = expected_maximum_sharpe_ratio(n_trials, var_trials_sr)
    return probabilistic_sharpe_ratio(sr, sr0, n_obs, skew, kurt)


def sharpe_ratio_moments(returns: np.ndarray) -> dict[str, float]:
    """Per-observation Sharpe (mean / std, ddof=1), skewness, Pearson kurtosis and count of a return series."""
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 1 or r.shape[0] < 2 or not np.isfinite(r).all():
        raise DataError(f"returns: need a 1-D array of at least 2 finite returns, got shape {r.shape}")
    std = r.std(ddof=1)
    if std == 0:
        return {"sr": 0.0, "skew": 0.0, "kurt": 3.0, "n_obs": float(r.shape[0])}
    return {
        "sr": float(r.mean() / std),
        "skew": float(stats.skew(r)),
        "kurt": float(stats.kurtosis(r, fisher=False)),
        "n_obs": float(r.shape[0]),
    }


@dataclass(frozen=True)
class PBOResult:
    """CSCV output: PBO, the logit per combination, and the IS-best configuration's IS/OOS performance."""

    pbo: float
    logits: np.ndarray
    best_config: np.ndarray  # index of the IS-best configuration per combination
    is_performance: np.ndarray
    oos_performance: np.ndarray
    degradation_slope: float
    degradation_intercept: float
    degradation_r2: float
    prob_oos_loss: float
    n_partitions: int
    n_combinations: int


def probability_of_backtest_overfitting(
    perf_matrix: np.ndarray, n_partitions: int = 16, *, metric: PBOMetric = "sharpe"
) -> PBOResult:
    """PBO of selecting the best of ``N`` configurations by CSCV (see the module docstring).

    ``metric`` ranks configurations by per-period Sharpe (mean / std, ddof=1; 0 for a constant
    series) or by mean return.
    """
    m = np.asarray(perf_matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape[1] < 2:
        raise DataError(
            f"perf_matrix: expected T × N returns with N >= 2 configurations, got shape {m.shape}"
        )
    if not np.isfinite(m).all():
        raise DataError(
            "perf_matrix: contains NaN or infinite values; align the configurations' returns first"
        )
    s = n_partitions
    if isinstance(s, bool) or int(s) != s or s < 2 or s % 2:
        raise ConfigError(f"n_partitions: must be an even whole number >= 2, got {n_partitions!r}")
    if metric not in ("sharpe", "mean"):
        raise ConfigError(f"metric: unknown PBO metric {metric!r}; use 'sharpe' or 'mean'")
    t, n = m.shape
    block = t // s
    half_rows = block * (s // 2)
    if block < 1 or (metric == "sharpe" and half_rows < 2):
        raise DataError(
            f"perf_matrix: {t} rows are too few for {s} partitions; use fewer partitions or more data"
        )
    shift = m.mean(axis=0)
    m = m[t - block * s :] - shift  # centring keeps the sum-of-squares variance stable
    blocks = m.reshape(s, block, n)
    block_sum, block_sq = blocks.sum(axis=1), (blocks**2).sum(axis=1)
    total_sum, total_sq = block_sum.sum(axis=0), block_sq.sum(axis=0)

    chosen = np.array(list(combinations(range(s), s // 2)), dtype=np.int64)
    membership = np.zeros((chosen.shape[0], s))
    np.put_along_axis(membership, chosen, 1.0, axis=1)
    best, is_perf, oos_perf, logits = [], [], [], []
    for lo in range(0, chosen.shape[0], _COMBINATION_CHUNK):
        a = membership[lo : lo + _COMBINATION_CHUNK]
        is_sum, is_sq = a @ block_sum, a @ block_sq
        r_is = _metric(is_sum, is_sq, half_rows, shift, metric)
        r_oos = _metric(total_sum - is_sum, total_sq - is_sq, half_rows, shift, metric)
        star = np.argmax(r_is, axis=1)
        rows = np.arange(star.shape[0])
        star_oos = r_oos[rows, star][:, None]
        rank = (r_oos < star_oos).sum(axis=1) + ((r_oos == star_oos).sum(axis=1) + 1) / 2.0
        omega = rank / (n + 1.0)
        best.append(star)
        is_perf.append(r_is[rows, star])
        oos_perf.append(r_oos[rows, star])
        logits.append(np.log(omega / (1.0 - omega)))
    lam = np.concatenate(logits)
    x, y = np.concatenate(is_perf), np.concatenate(oos_perf)
    slope, intercept, r2 = _least_squares(x, y)
    return PBOResult(
        pbo=pbo_from_logits(lam),
        logits=lam,
        best_config=np.concatenate(best),
        is_performance=x,
        oos_performance=y,
        degradation_slope=slope,
        degradation_intercept=intercept,
        degradation_r2=r2,
        prob_oos_loss=float((y < 0).mean()),
        n_partitions=s,
        n_combinations=comb(s, s // 2),
    )


def pbo_from_logits(logits: np.ndarray) -> float:
    """``P(λ < 0) + ½ P(λ = 0)``: the logit mass below 0, a median tie counting one half."""
    lam = np.asarray(logits, dtype=np.float64)
    at_median = np.isclose(lam, 0.0, atol=1e-12)
    return float(((lam < 0) & ~at_median).mean() + 0.5 * at_median.mean())


def _metric(sums: np.ndarray, sqs: np.ndarray, h: int, shift: np.ndarray, metric: str) -> np.ndarray:
    mean_c = sums / h  # mean of the centred returns
    if metric == "mean":
        return mean_c + shift
    var = np.maximum(sqs - h * mean_c**2, 0.0) / (h - 1)
    std = np.sqrt(var)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(std > 0, (mean_c + shift) / std, 0.0)


def _least_squares(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    dx, dy = x - x.mean(), y - y.mean()
    sxx, syy, sxy = float(dx @ dx), float(dy @ dy), float(dx @ dy)
    if sxx == 0:
        return float("nan"), float("nan"), float("nan")
    slope = sxy / sxx
    r2 = sxy * sxy / (sxx * syy) if syy > 0 else float("nan")
    return slope, float(y.mean() - slope * x.mean()), r2


def _check_trials(n_trials: int) -> int:
    if isinstance(n_trials, bool) or int(n_trials) != n_trials or n_trials < 1:
        raise DataError(
            f"n_trials: the number of configurations tried must be a whole number >= 1, got {n_trials!r}"
        )
    return int(n_trials)
