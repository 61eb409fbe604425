"""The roll marker: breaks, run ids, and the ladder carrying it (no bar spans a roll)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from mlfactory.adapters.windows import build_window_view
from mlfactory.data.instruments import get_instrument
from mlfactory.data.resample import build_ladder
from mlfactory.data.segments import break_ids, segment_breaks, with_segment
from mlfactory.data.sessions import attach_sessions

MIN = 60_000_000_000
BTC = get_instrument("BTC", tick_size=5.0, point_value=5.0, session="crypto_24x7")


def _bars(n: int = 40, roll_at: int = 20, continuous: bool = True) -> pl.DataFrame:
    """``n`` one-minute bars of BTC (24/7) from 10:00 UTC with a roll at bar ``roll_at`` (same day)."""
    t0 = datetime(2025, 3, 4, 10, 1, tzinfo=UTC)
    frame = pl.DataFrame(
        {
            "timestamp": [t0 + timedelta(minutes=k) for k in range(n)],
            "open": np.arange(n, dtype=float) + 100,
            "high": np.arange(n, dtype=float) + 101,
            "low": np.arange(n, dtype=float) + 99,
            "close": np.arange(n, dtype=float) + 100,
            "volume": np.ones(n),
            "segment": np.array([0] * roll_at + [1] * (n - roll_at), dtype=np.int32),
        }
    ).with_columns(pl.col("timestamp").dt.cast_time_unit("ns"))
    return attach_sessions(frame, BTC)


def test_breaks_and_ids():
    assert segment_breaks(np.array([0, 0, 1, 1, 2]), 5).tolist() == [False, False, True, False, True]
    assert not segment_breaks(None, 3).any()
    bars = _bars()
    ids = break_ids(bars)
    assert ids[19] != ids[20] and len(set(ids[:20])) == 1 and len(set(ids[20:])) == 1
    plain = with_segment(bars.drop("segment"))
    assert len(set(break_ids(plain).tolist())) == 1  # one contract, one trading day: one run


def test_ladder_bins_stop_at_a_roll_and_carry_the_segment():
    bars = _bars(roll_at=22)  # the roll falls inside the 10:20-10:25 bin
    ladder = build_ladder(bars, ("5m",), partial="flag")
    five = ladder["5m"]
    assert ladder["1m"]["segment"].to_list() == bars["segment"].to_list()
    first_of_new = five.filter(pl.col("segment") == 1).row(0, named=True)
    assert first_of_new["open"] == 122.0  # starts at the roll's first minute, not at the bin start
    last_of_old = five.filter(pl.col("segment") == 0).row(-1, named=True)
    assert last_of_old["close"] == 121.0 and last_of_old["n_minutes"] == 2


def test_windows_never_span_a_roll():
    bars = _bars()
    ts = bars["timestamp"].dt.epoch("ns").to_numpy()
    values = bars.select("close").to_numpy().astype(np.float32)
    view = build_window_view(values, ts, break_ids(bars), np.ones(bars.height, bool), ts, 5)
    seg = bars["segment"].to_numpy()
    for end in view.ends:
        assert len(set(seg[end - 4 : end + 1])) == 1
    # decisions at bars 20..23 would need a window reaching back across the roll
    assert not np.isin(ts[20:24], view.timestamps).any()
    assert np.isin(ts[24], view.timestamps)
