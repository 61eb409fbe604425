"""Timeframes: the ladder, minutes per timeframe, and multi-timeframe lists that never contain the base."""

from __future__ import annotations

import pytest

from mlfactory.errors import ConfigError
from mlfactory.timeframes import (
    ALL_TIMEFRAMES,
    LADDER,
    bars_for_duration,
    check_timeframe,
    default_mtf_timeframes,
    sort_timeframes,
    tf_minutes,
    validate_mtf_timeframes,
)


def test_ladder_is_the_documented_one() -> None:
    assert LADDER == ("5m", "10m", "15m", "20m", "25m", "30m", "45m", "1h", "4h", "1d")
    assert ALL_TIMEFRAMES == ("1m", *LADDER)
    assert [tf_minutes(tf) for tf in ALL_TIMEFRAMES] == [1, 5, 10, 15, 20, 25, 30, 45, 60, 240, 1440]


@pytest.mark.parametrize("base", ALL_TIMEFRAMES)
def test_default_mtf_never_contains_the_base_or_finer(base: str) -> None:
    mtf = default_mtf_timeframes(base)
    assert base not in mtf
    assert all(tf_minutes(tf) > tf_minutes(base) for tf in mtf)
    assert set(mtf) == {tf for tf in LADDER if tf_minutes(tf) > tf_minutes(base)}
    assert validate_mtf_timeframes(base, mtf) == mtf  # the defaults always pass validation


@pytest.mark.parametrize(
    ("base", "bad"), [("5m", "5m"), ("15m", "10m"), ("1h", "45m"), ("1d", "4h"), ("1h", "1m")]
)
def test_base_or_finer_in_mtf_is_rejected_naming_the_field(base: str, bad: str) -> None:
    with pytest.raises(
        ConfigError, match=rf"ladder\.mtf_timeframes: '{bad}' is not strictly coarser than the base"
    ):
        validate_mtf_timeframes(base, ["4h", bad] if bad != "4h" else [bad], "ladder.mtf_timeframes")


def test_mtf_unknown_and_duplicate_entries_are_rejected() -> None:
    with pytest.raises(ConfigError, match=r"mtf_timeframes: unknown timeframe '2h'"):
        validate_mtf_timeframes("5m", ["2h"])
    with pytest.raises(ConfigError, match=r"'1h' is listed twice"):
        validate_mtf_timeframes("5m", ["1h", "1h"])
    assert validate_mtf_timeframes("5m", ["1d", "15m", "1h"]) == ("15m", "1h", "1d")


def test_check_timeframe_and_tf_minutes_errors() -> None:
    assert check_timeframe("45m") == "45m"
    with pytest.raises(ConfigError, match=r"base_timeframe: unknown timeframe '7m'"):
        check_timeframe("7m", "base_timeframe")
    with pytest.raises(ConfigError, match="unknown timeframe 'abc'"):
        tf_minutes("abc")


def test_bars_for_duration_and_sorting() -> None:
    assert bars_for_duration(60, "5m") == 12
    assert bars_for_duration(1, "1h") == 1
    assert bars_for_duration(1440, "4h") == 6
    assert sort_timeframes(["1d", "5m", "1h", "45m"]) == ["5m", "45m", "1h", "1d"]
