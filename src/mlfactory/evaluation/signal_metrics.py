"""Signal quality before costs: information coefficient, its ICIR over days, traded-side precision.

- The score of a decision is ``p_long - p_short``. The information coefficient (IC) is the Spearman
  rank correlation of the score with the forward return (ties get average ranks).
- Daily ICs group decisions by UTC calendar day of ``decision_ts`` (or by the ``days`` labels you
  pass, e.g. trading days); a day with fewer than ``min_obs`` decisions, or a constant score or
  return, has no defined IC and is skipped. ICIR = mean / std (ddof=1) of the daily ICs, NaN with
  fewer than 2 usable days; ``ic_tstat = ICIR × sqrt(n_days)``.
- Traded-side precision: among decisions with a long position, the share whose label is +1; among
  shorts, the share labelled -1 (NaN when the side was never traded).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from mlfactory.errors import ConfigError, DataError
from mlfactory.evaluation.positions import check_probabilities
from mlfactory.evaluation.trading_metrics import NS_PER_DAY


def signal_score(proba: np.ndarray) -> np.ndarray:
    """``p_long - p_short`` per row of an ``(n, 3)`` probability matrix."""
    p = check_probabilities(proba)
    return p[:, 2] - p[:, 0]


def information_coefficient(proba: np.ndarray, forward_returns: np.ndarray) -> float:
    """Spearman rank correlation of ``p_long - p_short`` with the forward return (NaN if either is constant)."""
    score = signal_score(proba)
    fwd = _check_forward(forward_returns, score.shape[0])
    frame = pl.DataFrame({"score": score, "ret": fwd})
    value = frame.select(pl.corr("score", "ret", method="spearman")).item()
    return float("nan") if value is None else float(value)


def daily_information_coefficients(
    decision_ts: np.ndarray,
    proba: np.ndarray,
    forward_returns: np.ndarray,
    *,
    days: np.ndarray | None = None,
    min_obs: int = 5,
) -> pl.DataFrame:
    """One row per day with a defined IC: ``day``, ``ic``, ``n_obs`` (days sorted ascending)."""
    score = signal_score(proba)
    n = score.shape[0]
    fwd = _check_forward(forward_returns, n)
    if isinstance(min_obs, bool) or int(min_obs) != min_obs or min_obs < 3:
        raise ConfigError(
            f"min_obs: need a whole number >= 3 decisions per day for a rank correlation, got {min_obs!r}"
        )
    if days is None:
        ts = np.asarray(decision_ts)
        if ts.shape != (n,) or ts.dtype.kind not in "iu":
            raise DataError(
                f"decision_ts: expected {n} int64 ns UTC timestamps, got dtype {ts.dtype}, shape {ts.shape}"
            )
        day = ts.astype(np.int64) // NS_PER_DAY
    else:
        day = np.asarray(days)
        if day.shape != (n,):
            raise DataError(f"days: expected one day label per decision ({n}), got shape {day.shape}")
    frame = pl.DataFrame({"day": day, "score": score, "ret": fwd})
    per_day = (
        frame.group_by("day")
        .agg(pl.corr("score", "ret", method="spearman").alias("ic"), pl.len().alias("n_obs"))
        .filter((pl.col("n_obs") >= min_obs) & pl.col("ic").is_not_null() & pl.col("ic").is_not_nan())
        .sort("day")
    )
    return per_day


def information_coefficient_report(
    decision_ts: np.ndarray,
    proba: np.ndarray,
    forward_returns: np.ndarray,
    *,
    days: np.ndarray | None = None,
    min_obs: int = 5,
) -> dict[str, float | int]:
    """Pooled IC, mean/std of daily ICs, ICIR, its t-statistic and the number of usable days."""
    daily = daily_information_coefficients(decision_ts, proba, forward_returns, days=days, min_obs=min_obs)
    ics = daily["ic"].to_numpy()
    n_days = ics.shape[0]
    mean = float(ics.mean()) if n_days else float("nan")
    std = float(ics.std(ddof=1)) if n_days >= 2 else float("nan")
    icir = mean / std if n_days >= 2 and std > 0 else float("nan")
    return {
        "ic": information_coefficient(proba, forward_returns),
        "mean_daily_ic": mean,
        "std_daily_ic": std,
        "icir": icir,
        "ic_tstat": icir * float(np.sqrt(n_days)) if n_days else float("nan"),
        "n_days": n_days,
    }


def traded_side_precision(positions: np.ndarray, y_true: np.ndarray) -> dict[str, Any]:
    """Precision of the side actually traded: longs labelled +1, shorts labelled -1, and both together."""
    pos = np.asarray(positions, dtype=np.float64)
    y = np.asarray(y_true)
    if pos.shape != y.shape or pos.ndim != 1:
        raise DataError(
            f"positions and y_true: expected two 1-D arrays of one length, got {pos.shape} and {y.shape}"
        )
    if not np.isin(y, (-1, 0, 1)).all():
        raise DataError("y_true: labels must be -1, 0 or 1")
    long_, short = pos > 0, pos < 0
    traded = long_ | short
    correct = (long_ & (y == 1)) | (short & (y == -1))
    return {
        "long": {"count": int(long_.sum()), "precision": _share(y[long_] == 1)},
        "short": {"count": int(short.sum()), "precision": _share(y[short] == -1)},
        "traded": {"count": int(traded.sum()), "precision": _share(correct[traded])},
    }


def _share(hits: np.ndarray) -> float:
    return float(hits.mean()) if hits.size else float("nan")


def _check_forward(forward_returns: np.ndarray, n: int) -> np.ndarray:
    fwd = np.asarray(forward_returns, dtype=np.float64)
    if fwd.shape != (n,):
        raise DataError(f"forward_returns: expected one return per decision ({n}), got shape {fwd.shape}")
    if not np.isfinite(fwd).all():
        raise DataError(
            f"forward_returns: row {int(np.flatnonzero(~np.isfinite(fwd))[0])} is NaN or infinite; "
            "drop decisions whose forward return is unknown (the end of the sample)"
        )
    return fwd
