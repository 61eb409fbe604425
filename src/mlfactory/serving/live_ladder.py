"""The timeframe ladder advanced one closed 1-minute bar at a time, with a bounded tail per timeframe.

Bins are the ones ``data/resample.py`` builds: anchored at each session's open, cut at the session
close, minutes after the close in bins of their own, the daily bar following the trading day. Each
timeframe holds one *open* bin (its running open/high/low/close/volume) and a bounded tail of closed
bars in the ladder schema. A bin closes when a minute reaches its stamp (the bin's end or the
session close) or when a minute of another bin arrives (missing minutes at the bin's end), exactly
the bars the batch ladder marks ``complete``; a bin the data entered part-way (the first one) is
incomplete there too and is dropped in both paths. The daily bar closes at the session close; a
kept out-of-session minute that arrives after it (the batch ladder would let it join and re-stamp
the daily bar) is left out of the daily timeframe and counted in ``after_daily_close``.

Cost per minute is constant: a few comparisons per timeframe, no work over the history.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from mlfactory.data.resample import resample
from mlfactory.data.sessions import MINUTE_NS
from mlfactory.errors import DataError
from mlfactory.timeframes import tf_minutes

UTC_NS = pl.Datetime("ns", "UTC")


@dataclass
class OpenBin:
    """The running aggregate of the bin a timeframe is filling."""

    key: int  # bin start (session open for the daily bar), int ns
    cut_end: int  # the stamp the bin reaches when its last minute is present
    open: float
    high: float
    low: float
    close: float
    volume: float
    n_minutes: int
    trading_day: date
    session_open: int
    session_close: int
    last_ts: int
    start_covered: bool  # the data covers the bin from its start (else it is partial, as in batch)

    def add(self, ts: int, o: float, h: float, lo: float, c: float, v: float) -> None:
        self.high = max(self.high, h)
        self.low = min(self.low, lo)
        self.close = c
        self.volume += v
        self.n_minutes += 1
        self.last_ts = ts

    @property
    def stamp(self) -> int:
        return max(self.cut_end, self.last_ts)

    def row(self) -> tuple[Any, ...]:
        return (
            self.stamp, self.open, self.high, self.low, self.close, self.volume, self.n_minutes,
            self.trading_day, self.session_open, self.session_close,
        )  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["trading_day"] = self.trading_day.isoformat()
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> OpenBin:
        return cls(**{**d, "trading_day": date.fromisoformat(d["trading_day"])})


ROW_FIELDS = (
    "timestamp", "open", "high", "low", "close", "volume", "n_minutes", "trading_day", "session_open",
    "session_close",
)  # fmt: skip


def _bin_of(ts: int, s_open: int, s_close: int, tf: str) -> tuple[int, int]:
    """(key, cut end) of the bin minute ``ts`` belongs to: ``resample._bin_ends`` on one minute, in ints."""
    if tf == "1d":
        return s_open, s_close
    width = tf_minutes(tf) * MINUTE_NS
    start = s_open + ((ts - MINUTE_NS - s_open) // width) * width
    nominal = start + width
    if ts > s_close:  # a kept minute after the close never joins the bin cut at the close
        start = max(start, s_close)
    return start, nominal if start >= s_close else min(nominal, s_close)


@dataclass
class TimeframeTail:
    tf: str
    length: int
    closed: deque = field(default_factory=deque)
    open_bin: OpenBin | None = None
    last_closed_key: int | None = None
    version: int = 0  # bumped whenever ``closed`` changes; keys the frame cache
    _frame: tuple[int, pl.DataFrame] | None = field(default=None, repr=False)

    def push_closed(self, row: tuple[Any, ...]) -> None:
        self.closed.append(row)
        while len(self.closed) > self.length:
            self.closed.popleft()
        self.version += 1

    def extend_closed(self, rows: Iterable[tuple[Any, ...]]) -> None:
        self.closed.clear()
        self.closed.extend(rows)
        while len(self.closed) > self.length:
            self.closed.popleft()
        self.version += 1
        self._frame = None  # replaced, not appended to: rebuilt on the next ``frame``

    def close_open(self) -> bool:
        """Close the open bin; True when it is a complete bar (appended to the tail)."""
        b, self.open_bin = self.open_bin, None
        if b is not None:
            self.last_closed_key = b.key
        if b is None or not b.start_covered:
            return False
        self.push_closed(b.row())
        return True

    def frame(self) -> pl.DataFrame:
        """The closed bars in the ladder schema, updated only after the tail changed: the bars
        appended since the last frame are added to it (a tail of thousands of bars is not rebuilt
        from Python tuples at every bar)."""
        if self._frame is not None and self._frame[0] == self.version:
            return self._frame[1]
        added = self.version - self._frame[0] if self._frame is not None else 0
        if self._frame is None or not 0 < added <= len(self.closed):
            frame = self._build_frame(self.closed)
        else:
            new = self._build_frame(
                [self.closed[i] for i in range(len(self.closed) - added, len(self.closed))]
            )
            frame = pl.concat([self._frame[1], new]).tail(len(self.closed))
            if frame.n_chunks() > 64:
                frame = frame.rechunk()
        self._frame = (self.version, frame)
        return frame

    @staticmethod
    def _build_frame(closed: Iterable[tuple[Any, ...]]) -> pl.DataFrame:
        closed = list(closed)
        cols = list(zip(*closed, strict=True)) if closed else [[] for _ in ROW_FIELDS]
        data = dict(zip(ROW_FIELDS, cols, strict=True))
        return pl.DataFrame(
            {
                "timestamp": pl.Series(data["timestamp"], dtype=pl.Int64).cast(UTC_NS),
                **{
                    k: pl.Series(data[k], dtype=pl.Float64)
                    for k in ("open", "high", "low", "close", "volume")
                },
                "n_minutes": pl.Series(data["n_minutes"], dtype=pl.Int32),
                "trading_day": pl.Series(data["trading_day"], dtype=pl.Date),
                "session_open": pl.Series(data["session_open"], dtype=pl.Int64).cast(UTC_NS),
                "session_close": pl.Series(data["session_close"], dtype=pl.Int64).cast(UTC_NS),
                "complete": pl.Series([True] * len(closed), dtype=pl.Boolean),
            }
        )


class LiveLadder:
    """Per timeframe, an open bin and the last ``lengths[tf]`` closed bars."""

    def __init__(self, lengths: dict[str, int]):
        if not lengths:
            raise DataError("live ladder: no timeframes to follow")
        self.tails = {tf: TimeframeTail(tf, int(n)) for tf, n in lengths.items()}
        self.first_open_time: int | None = None  # the first minute's open: bins before it are partial
        self.last_ts: int | None = None
        self.after_daily_close = 0

    @property
    def timeframes(self) -> tuple[str, ...]:
        return tuple(self.tails)

    def push(
        self, ts: int, o: float, h: float, lo: float, c: float, v: float, day: date, s_open: int, s_close: int
    ) -> list[tuple[str, int]]:
        """Advance every timeframe by one validated minute; the (tf, stamp) of each bar it closed."""
        if self.last_ts is not None and ts <= self.last_ts:
            raise DataError(
                f"live ladder: minute {np.datetime64(ts, 'ns')}Z is not after the last one "
                f"({np.datetime64(self.last_ts, 'ns')}Z)"
            )
        if self.first_open_time is None:
            self.first_open_time = ts - MINUTE_NS
        self.last_ts = ts
        closed: list[tuple[str, int]] = []
        for tf, tail in self.tails.items():
            if tf == "1m":
                tail.push_closed((ts, o, h, lo, c, v, 1, day, s_open, s_close))
                closed.append((tf, ts))
                continue
            key, cut_end = _bin_of(ts, s_open, s_close, tf)
            if key == tail.last_closed_key:  # only the daily bar: a kept minute after the session close
                self.after_daily_close += 1
                continue
            b = tail.open_bin
            if b is not None and b.key != key:
                stamp = b.stamp
                if tail.close_open():
                    closed.append((tf, stamp))
                b = None
            if b is None:
                tail.open_bin = OpenBin(
                    key, cut_end, o, h, lo, c, v, 1, day, s_open, s_close, ts, self.first_open_time <= key
                )
            else:
                b.add(ts, o, h, lo, c, v)
            b = tail.open_bin
            if b is not None and ts >= b.cut_end:
                stamp = b.stamp
                if tail.close_open():
                    closed.append((tf, stamp))
        return closed

    def warm(self, bars_1m: pl.DataFrame) -> None:
        """Fill the tails from validated 1-minute history (batch resampling, then the open bins)."""
        if bars_1m.height == 0:
            raise DataError("live ladder: the warm-up history has no bars")
        ts = bars_1m["timestamp"].dt.epoch("ns").to_numpy()
        self.first_open_time = int(ts[0]) - MINUTE_NS
        self.last_ts = int(ts[-1])
        s_open = int(bars_1m["session_open"].dt.epoch("ns")[-1])
        s_close = int(bars_1m["session_close"].dt.epoch("ns")[-1])
        for tf, tail in self.tails.items():
            tail.open_bin = None
            if tf == "1m":
                frame = bars_1m.tail(tail.length)
                rows = frame.select(
                    pl.col("timestamp").dt.epoch("ns"), "open", "high", "low", "close", "volume",
                    pl.lit(1, pl.Int32).alias("n_minutes"), "trading_day",
                    pl.col("session_open").dt.epoch("ns"), pl.col("session_close").dt.epoch("ns"),
                ).rows()  # fmt: skip
                tail.extend_closed(rows)
                continue
            bars = resample(bars_1m, tf, partial="flag")
            key, cut_end = _bin_of(int(ts[-1]), s_open, s_close, tf)
            tail.last_closed_key = key if bars["complete"][-1] else None
            if not bars["complete"][-1]:
                r = bars.row(bars.height - 1, named=True)
                tail.open_bin = OpenBin(
                    key, cut_end, r["open"], r["high"], r["low"], r["close"], r["volume"],
                    int(r["n_minutes"]), r["trading_day"], s_open, s_close, int(ts[-1]),
                    self.first_open_time <= key,
                )  # fmt: skip
                bars = bars.head(bars.height - 1)
            bars = bars.filter(pl.col("complete")).tail(tail.length)
            tail.extend_closed(_rows(bars))

    def frames(self) -> dict[str, pl.DataFrame]:
        return {tf: tail.frame() for tf, tail in self.tails.items()}

    def n_closed(self) -> dict[str, int]:
        return {tf: len(t.closed) for tf, t in self.tails.items()}

    # ---- state ----
    def state(self) -> dict[str, Any]:
        return {
            "first_open_time": self.first_open_time,
            "last_ts": self.last_ts,
            "lengths": {tf: t.length for tf, t in self.tails.items()},
            "after_daily_close": self.after_daily_close,
            "last_closed_keys": {tf: t.last_closed_key for tf, t in self.tails.items()},
            "open_bins": {tf: t.open_bin.to_json() if t.open_bin else None for tf, t in self.tails.items()},
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], frames: dict[str, pl.DataFrame]) -> LiveLadder:
        ladder = cls(state["lengths"])
        ladder.first_open_time = state["first_open_time"]
        ladder.last_ts = state["last_ts"]
        ladder.after_daily_close = state["after_daily_close"]
        for tf, tail in ladder.tails.items():
            ob = state["open_bins"][tf]
            tail.open_bin = OpenBin.from_json(ob) if ob else None
            tail.last_closed_key = state["last_closed_keys"][tf]
            tail.extend_closed(_rows(frames[tf]))
        return ladder


def _rows(bars: pl.DataFrame) -> Iterable[tuple[Any, ...]]:
    return bars.select(
        pl.col("timestamp").dt.epoch("ns"), "open", "high", "low", "close", "volume", "n_minutes",
        "trading_day", pl.col("session_open").dt.epoch("ns"), pl.col("session_close").dt.epoch("ns"),
    ).rows()  # fmt: skip
