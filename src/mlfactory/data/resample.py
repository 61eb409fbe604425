"""The timeframe ladder: every timeframe resampled directly from canonical 1-minute bars.

Bins are anchored at each exchange session's open, so a bar never spans the daily break or a
weekend: on CME Globex a 4h bar runs 17:00–21:00, …, 13:00–16:00 Chicago (the last bin of a
session is cut at the session close). Daily bars follow the exchange trading day. Each bar is
stamped at its close: the end of its bin, or the session close for a cut bin. Minutes after the
session close (out-of-session bars kept with a warning) start their own bin at the close, stamped
at the bin's end, so they never move a bar that already closed; only a daily bar absorbs them
(stamped at its last minute). Bars are built with run-length reductions over the sorted 1-minute
arrays — no per-bar Python work.

``complete`` is False for the bins at the data's two ends that the data does not fully cover;
by default those partial bars are dropped.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import polars as pl

from mlfactory.data.segments import SEGMENT, bar_segments, segment_breaks
from mlfactory.data.sessions import MINUTE_NS
from mlfactory.errors import DataError
from mlfactory.timeframes import LADDER, check_timeframe, tf_minutes

BAR_COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")
LADDER_SCHEMA_EXTRA = ("n_minutes", "trading_day", "session_open", "session_close", "complete", "segment")


def _bin_ends(
    ts: np.ndarray, s_open: np.ndarray, s_close: np.ndarray, day: np.ndarray, tf: str
) -> tuple[np.ndarray, np.ndarray]:
    """Per-minute bin start and nominal bin end (int64 ns)."""
    if tf == "1d":
        return s_open, np.maximum(s_close, ts)
    width = tf_minutes(tf) * MINUTE_NS
    k = (ts - MINUTE_NS - s_open) // width
    start = s_open + k * width
    end = start + width
    # A minute after the close must not join (and re-stamp) the bin cut at the close.
    late = ts > s_close
    return np.where(late, np.maximum(start, s_close), start), end


def resample(bars_1m: pl.DataFrame, tf: str, *, partial: Literal["drop", "flag"] = "drop") -> pl.DataFrame:
    """Aggregate canonical 1-minute bars (with session columns) to ``tf``."""
    check_timeframe(tf)
    if tf == "1m":
        return to_ladder_frame_1m(bars_1m)
    missing = [c for c in ("session_open", "session_close", "trading_day") if c not in bars_1m.columns]
    if missing:
        raise DataError(
            f"resample: 1-minute bars lack session columns {missing}; validate them first (validate_bars)"
        )
    n = bars_1m.height
    if n == 0:
        raise DataError(f"resample to {tf}: no 1-minute bars")
    ts = bars_1m["timestamp"].dt.epoch("ns").to_numpy()
    s_open = bars_1m["session_open"].dt.epoch("ns").to_numpy()
    s_close = bars_1m["session_close"].dt.epoch("ns").to_numpy()
    start, end = _bin_ends(ts, s_open, s_close, None, tf)
    key = start if tf != "1d" else s_open
    change = np.empty(n, dtype=bool)
    change[0] = True
    np.not_equal(key[1:], key[:-1], out=change[1:])
    seg = bar_segments(bars_1m)
    change |= segment_breaks(seg, n)  # a bar never spans a contract roll
    starts = np.flatnonzero(change)
    last = np.append(starts[1:], n) - 1

    o = bars_1m["open"].to_numpy()
    h = bars_1m["high"].to_numpy()
    lo = bars_1m["low"].to_numpy()
    c = bars_1m["close"].to_numpy()
    v = bars_1m["volume"].to_numpy()
    bin_start = start[starts]
    nominal_end = end[starts] if tf != "1d" else s_close[starts]
    # Cut at the session close; bins after the close (kept out-of-session minutes) end at their nominal end.
    cut_end = np.where(bin_start >= s_close[starts], nominal_end, np.minimum(nominal_end, s_close[starts]))
    stamp = np.maximum(cut_end, ts[last])
    first_open_time = ts[0] - MINUTE_NS
    complete = (first_open_time <= bin_start) & (ts[-1] >= stamp)
    out = pl.DataFrame(
        {
            "timestamp": pl.Series(stamp, dtype=pl.Int64).cast(pl.Datetime("ns", "UTC")),
            "open": o[starts],
            "high": np.maximum.reduceat(h, starts),
            "low": np.minimum.reduceat(lo, starts),
            "close": c[last],
            "volume": np.add.reduceat(v, starts),
            "n_minutes": (last - starts + 1).astype(np.int32),
            "trading_day": bars_1m["trading_day"].gather(starts),
            "session_open": bars_1m["session_open"].gather(starts),
            "session_close": bars_1m["session_close"].gather(starts),
            "complete": complete,
            SEGMENT: seg[starts],
        }
    )
    if partial == "drop":
        out = out.filter(pl.col("complete"))
    elif partial != "flag":
        raise DataError(f"partial bars policy must be 'drop' or 'flag', got {partial!r}")
    return out


def to_ladder_frame_1m(bars_1m: pl.DataFrame) -> pl.DataFrame:
    """The canonical 1-minute bars in the ladder schema."""
    return bars_1m.select(
        *BAR_COLUMNS,
        pl.lit(1, dtype=pl.Int32).alias("n_minutes"),
        "trading_day",
        "session_open",
        "session_close",
        pl.lit(True).alias("complete"),
        pl.col(SEGMENT).cast(pl.Int32)
        if SEGMENT in bars_1m.columns
        else pl.lit(0, dtype=pl.Int32).alias(SEGMENT),
    )


def build_ladder(
    bars_1m: pl.DataFrame, timeframes: tuple[str, ...] = LADDER, *, partial: Literal["drop", "flag"] = "drop"
) -> dict[str, pl.DataFrame]:
    """``{"1m": canonical, tf: resampled, ...}`` — each timeframe from the 1-minute bars."""
    ladder = {"1m": to_ladder_frame_1m(bars_1m)}
    for tf in timeframes:
        if tf != "1m":
            ladder[tf] = resample(bars_1m, tf, partial=partial)
    return ladder
