"""As-of alignment: attach a coarser timeframe's values to finer (or decision) timestamps.

Timestamps mark bar closes, so a higher bar stamped ``T`` has closed at ``T`` and is usable at any
timestamp ``>= T``. The join takes, for each left timestamp, the latest right row stamped at or
before it — never a bar that is still forming.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from mlfactory.errors import DataError


def asof_align(
    left_timestamps: pl.Series | pl.DataFrame,
    right: pl.DataFrame,
    *,
    columns: list[str] | None = None,
    suffix: str = "",
    max_staleness: pl.Duration | str | None = None,
) -> pl.DataFrame:
    """For each left timestamp, the values of the latest ``right`` row with ``timestamp <= t``.

    Returns a frame with the left ``timestamp`` column and the chosen right columns (renamed with
    ``suffix``); rows with no closed right bar yet (or one older than ``max_staleness``) get nulls.
    """
    left = (
        left_timestamps.to_frame("timestamp")
        if isinstance(left_timestamps, pl.Series)
        else left_timestamps.select("timestamp")
    )
    cols = columns if columns is not None else [c for c in right.columns if c != "timestamp"]
    for frame, name in ((left, "left"), (right, "right")):
        if not frame["timestamp"].is_sorted():
            raise DataError(f"asof_align: {name} timestamps must be sorted ascending")
    r = right.select("timestamp", *cols).rename({c: f"{c}{suffix}" for c in cols} if suffix else {})
    r = r.with_columns(pl.col("timestamp").alias("_right_ts"))
    out = left.join_asof(r, on="timestamp", strategy="backward", tolerance=max_staleness)
    return out.drop("_right_ts")


def asof_rows(right_ts: np.ndarray, left_ts: np.ndarray) -> np.ndarray:
    """``asof_align`` as row numbers: per left timestamp, the index of the latest right row stamped
    at or before it (int64 ns, both increasing), -1 where none has closed yet. Gathering only these
    rows is what a live decision needs (one row, not a join over the whole tail)."""
    if (np.diff(right_ts) <= 0).any() or (np.diff(left_ts) < 0).any():
        raise DataError("asof_rows: right timestamps must be strictly increasing and left ones sorted")
    return np.searchsorted(right_ts, left_ts, side="right") - 1


def exact_rows(right_ts: np.ndarray, left_ts: np.ndarray) -> np.ndarray:
    """Per left timestamp, the index of the right row stamped exactly at it (int64 ns, right strictly
    increasing), -1 where there is none: a left join on the timestamp as a gather."""
    if (np.diff(right_ts) <= 0).any():
        raise DataError("exact_rows: right timestamps must be strictly increasing")
    if right_ts.size == 0:
        return np.full(len(left_ts), -1, dtype=np.int64)
    at = np.minimum(np.searchsorted(right_ts, left_ts), right_ts.size - 1)
    return np.where(right_ts[at] == left_ts, at, -1).astype(np.int64)
