"""Segments: the per-bar marker of contract rolls, and the breaks every time-spanning step respects.

Canonical bars carry ``segment`` (Int32): 0 for a single-contract file, and 0, 1, 2, ... one per
contract held in a stitched continuous series (``mlfactory.data.rolls``), changing exactly at each
roll. A roll is a break like a session break: no label path, window, return or backtest position
spans it. Everything that spans time takes its breaks from here:

- ``segment_breaks``: True at a bar whose segment differs from the bar before (a roll);
- ``break_ids``: one id per unbroken run of bars, broken at rolls and at trading-day changes
  and/or time gaps longer than a threshold (the session-break rule of each caller).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from mlfactory.errors import DataError

SEGMENT = "segment"


def with_segment(bars: pl.DataFrame) -> pl.DataFrame:
    """``bars`` with an Int32 ``segment`` column (0 everywhere when the bars carry none)."""
    if SEGMENT in bars.columns:
        return bars.with_columns(pl.col(SEGMENT).cast(pl.Int32))
    return bars.with_columns(pl.lit(0, dtype=pl.Int32).alias(SEGMENT))


def bar_segments(bars: pl.DataFrame) -> np.ndarray:
    """The ``segment`` of each bar as int32 (zeros when the bars carry none)."""
    if SEGMENT not in bars.columns:
        return np.zeros(bars.height, dtype=np.int32)
    return bars[SEGMENT].cast(pl.Int32).to_numpy()


def segment_breaks(segment: np.ndarray | None, n: int) -> np.ndarray:
    """Bool per bar: a roll lies between bar ``j-1`` and bar ``j`` (all False without segments)."""
    brk = np.zeros(n, dtype=np.bool_)
    if segment is None:
        return brk
    seg = np.asarray(segment)
    if seg.shape != (n,):
        raise DataError(f"segment: expected shape ({n},) to match the bars, got {seg.shape}")
    if n > 1:
        np.not_equal(seg[1:], seg[:-1], out=brk[1:])
    return brk


def break_ids(
    bars: pl.DataFrame, *, by_trading_day: bool = True, max_gap_ns: int | None = None
) -> np.ndarray:
    """One id per unbroken run: a new id at every roll, and at every trading-day change
    (``by_trading_day``) and/or every step longer than ``max_gap_ns``."""
    n = bars.height
    new = segment_breaks(bar_segments(bars), n)
    if by_trading_day:
        day = bars["trading_day"]
        new |= (day != day.shift(1)).fill_null(False).to_numpy()
    if max_gap_ns is not None and n > 1:
        ts = bars["timestamp"].dt.epoch("ns").to_numpy()
        new[1:] |= np.diff(ts) > max_gap_ns
    return np.cumsum(new, dtype=np.int64)
