"""Comparisons on the same rows: common decision rows, coverage, and warnings about thin evidence.

- **Common rows.** Models scored on different rows (an ensemble that could only stack the rows all
  its bases predicted, a sequence model that skips its warm-up) are not comparable. ``common_rows``
  keeps, for every model, only the decision timestamps that all of them predicted.
- **Coverage** = rows used ÷ rows on the decision clock for that split (``rows_on_clock``): how
  much of the period a metric actually speaks for.
- **Warnings** when coverage is below 90 %, the test period spans fewer than 20 trading days, or
  the strategy made fewer than 30 trades: a Sharpe from such a sample has a standard error of
  the order of the Sharpe itself. Trading days are the distinct UTC dates that hold a bar.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl

from mlfactory.errors import DataError

MIN_COVERAGE = 0.90
MIN_TRADING_DAYS = 20
MIN_TRADES = 30
NS_PER_DAY = 86_400 * 10**9


def common_rows(predictions: Mapping[str, pl.DataFrame], on: str = "timestamp") -> dict[str, pl.DataFrame]:
    """Each frame restricted to the ``on`` values present in every frame, sorted by ``on``."""
    if not predictions:
        return {}
    for name, frame in predictions.items():
        if on not in frame.columns:
            raise DataError(f"predictions of {name}: no column {on!r} to align the models on")
        if frame[on].is_duplicated().any():
            raise DataError(f"predictions of {name}: duplicate {on} values; one prediction per decision")
    frames = list(predictions.values())
    shared = frames[0].select(on)
    for frame in frames[1:]:
        shared = shared.join(frame.select(on), on=on, how="semi")
    return {name: frame.join(shared, on=on, how="semi").sort(on) for name, frame in predictions.items()}


def coverage(rows_used: int, rows_on_clock: int) -> dict[str, float | int]:
    """Rows used, rows on the clock and their ratio (``share``; NaN when the clock has no row)."""
    if rows_used < 0 or rows_on_clock < 0 or rows_used > rows_on_clock:
        raise DataError(
            f"coverage: {rows_used} rows used of {rows_on_clock} on the clock; used rows must be a subset"
        )
    share = rows_used / rows_on_clock if rows_on_clock else float("nan")
    return {"rows_used": int(rows_used), "rows_on_clock": int(rows_on_clock), "share": float(share)}


def trading_days(bar_ts: np.ndarray) -> int:
    """Distinct UTC dates holding at least one bar (int64 ns timestamps)."""
    ts = np.asarray(bar_ts, dtype=np.int64)
    return int(np.unique(ts // NS_PER_DAY).shape[0])


def evidence_warnings(
    coverage_share: float | None, n_trading_days: int | None, n_trades: int | None
) -> list[str]:
    """Plain-language warnings for low coverage, a short test period or few trades (empty when none)."""
    out = []
    if coverage_share is not None and np.isfinite(coverage_share) and coverage_share < MIN_COVERAGE:
        out.append(
            f"coverage {coverage_share:.0%} (< {MIN_COVERAGE:.0%}): the metric speaks for part of the period only"
        )
    if n_trading_days is not None and n_trading_days < MIN_TRADING_DAYS:
        out.append(f"short test period: {n_trading_days} trading days (< {MIN_TRADING_DAYS})")
    if n_trades is not None and n_trades < MIN_TRADES:
        out.append(f"few trades: {n_trades} (< {MIN_TRADES})")
    return out
