"""The live ladder, fed one minute at a time, builds exactly the batch ladder's complete bars."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from mlfactory.data.instruments import get_instrument
from mlfactory.data.policies import ValidationPolicies
from mlfactory.data.resample import build_ladder
from mlfactory.data.synthetic import generate_bars
from mlfactory.data.validate import validate_bars
from mlfactory.errors import DataError
from mlfactory.serving.live_ladder import LiveLadder
from mlfactory.timeframes import LADDER

TIMEFRAMES = ("1m", *LADDER)
COLUMNS = [
    "timestamp",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "n_minutes",
    "trading_day",
    "session_open",
    "session_close",
]


@pytest.fixture(scope="module")
def holiday_bars() -> pl.DataFrame:
    """Synthetic MES minutes over Christmas and New Year (holidays, early closes), with gaps and outages."""
    raw = generate_bars(
        12_000, start=date(2023, 12, 20), seed=5, missing_minute_rate=0.05, outages_per_100k=60
    )
    bars, _ = validate_bars(raw.with_row_index("row"), path=Path("synthetic"), instrument=get_instrument("MES"),
                            policies=ValidationPolicies())  # fmt: skip
    return bars.drop("row")


def _push_all(ladder: LiveLadder, bars: pl.DataFrame) -> list[tuple[str, int]]:
    closed = []
    rows = bars.select(
        pl.col("timestamp").dt.epoch("ns"), "open", "high", "low", "close", "volume", "trading_day",
        pl.col("session_open").dt.epoch("ns"), pl.col("session_close").dt.epoch("ns"),
    ).rows()  # fmt: skip
    for row in rows:
        closed += ladder.push(*row)
    return closed


def _check_equal(live: LiveLadder, batch: dict[str, pl.DataFrame]) -> None:
    frames = live.frames()
    for tf in TIMEFRAMES:
        expected = batch[tf].select(COLUMNS)
        got = frames[tf].select(COLUMNS)
        assert got.height == min(expected.height, live.tails[tf].length), tf
        assert got.equals(expected.tail(got.height)), tf


def test_bars_fed_one_minute_at_a_time_equal_the_batch_ladder(holiday_bars: pl.DataFrame) -> None:
    days = set(holiday_bars["trading_day"].to_list())
    assert date(2023, 12, 22) in days and date(2023, 12, 25) not in days and date(2023, 12, 26) in days
    batch = build_ladder(holiday_bars, LADDER)
    live = LiveLadder(dict.fromkeys(TIMEFRAMES, 100_000))
    closed = _push_all(live, holiday_bars)
    _check_equal(live, batch)
    # each bar was announced once, at its stamp
    for tf in TIMEFRAMES:
        stamps = [s for t, s in closed if t == tf]
        assert stamps == batch[tf]["timestamp"].dt.epoch("ns").to_list()[: len(stamps)], tf
        assert len(stamps) == batch[tf].height, tf


def test_warm_up_then_push_equals_pushing_everything(holiday_bars: pl.DataFrame) -> None:
    batch = build_ladder(holiday_bars, LADDER)
    for split in (1_777, 6_001, 9_500):
        live = LiveLadder(dict.fromkeys(TIMEFRAMES, 500))
        live.warm(holiday_bars.head(split))
        _push_all(live, holiday_bars.slice(split))
        _check_equal(live, batch)


def test_tails_stay_bounded(holiday_bars: pl.DataFrame) -> None:
    live = LiveLadder(dict.fromkeys(TIMEFRAMES, 7))
    _push_all(live, holiday_bars)
    assert all(n <= 7 for n in live.n_closed().values())
    _check_equal(live, build_ladder(holiday_bars, LADDER))


def test_state_round_trip_continues_identically(holiday_bars: pl.DataFrame) -> None:
    a = LiveLadder(dict.fromkeys(TIMEFRAMES, 300))
    _push_all(a, holiday_bars.head(5_000))
    b = LiveLadder.from_state(a.state(), a.frames())
    rest = holiday_bars.slice(5_000)
    assert _push_all(a, rest) == _push_all(b, rest)
    for tf in TIMEFRAMES:
        assert a.frames()[tf].equals(b.frames()[tf])


def test_a_minute_not_after_the_last_is_refused(holiday_bars: pl.DataFrame) -> None:
    live = LiveLadder({"5m": 10})
    _push_all(live, holiday_bars.head(10))
    with pytest.raises(DataError, match="not after the last one"):
        _push_all(live, holiday_bars.slice(9, 1))
