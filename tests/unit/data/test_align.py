"""As-of alignment: a higher bar reaches a timestamp only once it has closed at or before it."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from mlfactory.data.align import asof_align, exact_rows
from mlfactory.data.instruments import get_instrument
from mlfactory.data.resample import resample
from mlfactory.data.sessions import attach_sessions
from mlfactory.data.synthetic import generate_bars
from mlfactory.errors import DataError

MIN_NS = 60 * 10**9


def _ts(minutes: list[int]) -> pl.Series:
    return pl.Series("timestamp", [m * MIN_NS for m in minutes]).cast(pl.Datetime("ns", "UTC"))


def test_uses_only_bars_closed_at_or_before() -> None:
    right = pl.DataFrame({"timestamp": _ts([5, 10, 15]), "close": [1.0, 2.0, 3.0]})
    out = asof_align(_ts([4, 5, 6, 9, 10, 14, 15, 99]), right, columns=["close"], suffix="_5m")
    assert out.columns == ["timestamp", "close_5m"]
    assert out["close_5m"].to_list() == [None, 1.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0]


def test_max_staleness_nulls_old_values() -> None:
    right = pl.DataFrame({"timestamp": _ts([5, 10]), "x": [1, 2]})
    out = asof_align(_ts([10, 12, 20, 21]), right, max_staleness="10m")
    assert out["x"].to_list() == [2, 2, 2, None]


def test_unsorted_inputs_are_rejected() -> None:
    right = pl.DataFrame({"timestamp": _ts([10, 5]), "x": [1, 2]})
    with pytest.raises(DataError, match="right timestamps must be sorted"):
        asof_align(_ts([1, 2]), right)
    with pytest.raises(DataError, match="left timestamps must be sorted"):
        asof_align(_ts([2, 1]), right.sort("timestamp"))


def test_matches_a_slow_reference_on_the_ladder() -> None:
    one = attach_sessions(generate_bars(3_000, start=date(2024, 3, 7), seed=9), get_instrument("MES"))
    hour = resample(one, "1h")
    decisions = one["timestamp"]
    hour = hour.with_columns(pl.col("timestamp").alias("bar_close"))
    out = asof_align(decisions, hour, columns=["close", "bar_close"], suffix="_1h")
    stamps = hour["timestamp"].dt.epoch("ns").to_numpy()
    closes = hour["close"].to_numpy()
    expected = []
    for t in decisions.dt.epoch("ns").to_numpy():
        closed = np.flatnonzero(stamps <= t)
        expected.append(float(closes[closed[-1]]) if len(closed) else None)
    assert out["close_1h"].to_list() == expected
    used = out["bar_close_1h"].drop_nulls()
    assert (used <= out.filter(pl.col("bar_close_1h").is_not_null())["timestamp"]).all()


def test_accepts_a_frame_and_keeps_left_timestamps() -> None:
    right = pl.DataFrame({"timestamp": _ts([5]), "x": [7]})
    left = pl.DataFrame({"timestamp": _ts([3, 6]), "other": ["a", "b"]})
    out = asof_align(left, right)
    assert out["timestamp"].equals(left["timestamp"])
    assert out["x"].to_list() == [None, 7]


def test_exact_rows_is_a_left_join_on_the_stamp():
    right = np.array([10, 20, 30], dtype=np.int64)
    left = np.array([5, 10, 25, 30, 40], dtype=np.int64)
    np.testing.assert_array_equal(exact_rows(right, left), [-1, 0, -1, 2, -1])
    np.testing.assert_array_equal(exact_rows(right[:0], left), [-1] * 5)
    with pytest.raises(DataError, match="strictly increasing"):
        exact_rows(np.array([10, 10]), left)
