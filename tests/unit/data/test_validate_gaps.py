"""Gap classification (validate.classify_gaps) on crafted frames: weekend, daily break, holiday, intra-session, unexpected."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from mlfactory.data.instruments import get_instrument
from mlfactory.data.policies import ValidationPolicies
from mlfactory.data.sessions import attach_sessions
from mlfactory.data.synthetic import generate_bars
from mlfactory.data.validate import classify_gaps, validate_bars

CHICAGO = ZoneInfo("America/Chicago")
UTC = ZoneInfo("UTC")
KINDS = ("weekend", "daily_break", "holiday", "intra_session", "unexpected")


def _full_days(start: date, n_bars: int) -> pl.DataFrame:
    """Every session minute from ``start`` (no missing minutes, no outages), with session columns."""
    bars = generate_bars(n_bars, start=start, seed=2, missing_minute_rate=0.0, outages_per_100k=0.0)
    return attach_sessions(bars, get_instrument("MES"))


@pytest.fixture(scope="module")
def week() -> pl.DataFrame:
    # Mon 2024-01-08 .. Tue 2024-01-16: Jan 15 is MLK day (early close 12:00 CT), then a weekend.
    bars = _full_days(date(2024, 1, 8), 5 * 1380 + 1100 + 1380)
    days = bars["trading_day"].unique().sort().to_list()
    assert days == [date(2024, 1, d) for d in (8, 9, 10, 11, 12, 15, 16)]
    return bars


def _ct(y: int, m: int, d: int, hh: int, mm: int) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=CHICAGO)


def _drop_between(bars: pl.DataFrame, start: datetime, end: datetime) -> pl.DataFrame:
    """Remove the bars closing in (start, end] (local Chicago times)."""
    lo, hi = (pl.lit(t.astimezone(UTC)).dt.cast_time_unit("ns") for t in (start, end))
    return bars.filter(~pl.col("timestamp").is_between(lo, hi, closed="right"))


def _kinds(bars: pl.DataFrame) -> dict[str, int]:
    gaps = classify_gaps(bars, get_instrument("MES"), unexpected_minutes=30)
    assert gaps["count"] == sum(gaps["by_kind"].values())
    return gaps["by_kind"]


def test_clean_week_has_breaks_weekend_and_early_close_holiday(week: pl.DataFrame) -> None:
    # daily breaks 8→9, 9→10, 10→11, 11→12; weekend 12→15; 15→16 follows MLK's 12:00 early close.
    assert _kinds(week) == {"weekend": 1, "daily_break": 4, "holiday": 1, "intra_session": 0, "unexpected": 0}


def test_short_missing_minutes_are_intra_session(week: pl.DataFrame) -> None:
    bars = _drop_between(week, _ct(2024, 1, 9, 10, 0), _ct(2024, 1, 9, 10, 3))
    assert _kinds(bars)["intra_session"] == 1
    assert _kinds(bars)["unexpected"] == 0


def test_long_hole_in_a_session_is_unexpected(week: pl.DataFrame) -> None:
    bars = _drop_between(week, _ct(2024, 1, 10, 10, 0), _ct(2024, 1, 10, 10, 45))
    kinds = _kinds(bars)
    assert kinds["unexpected"] == 1
    assert kinds["intra_session"] == 0


def test_late_reopen_after_the_break_is_unexpected(week: pl.DataFrame) -> None:
    # The session of Jan 11 opens Jan 10 17:00 CT; the data only resumes at 18:00.
    bars = _drop_between(week, _ct(2024, 1, 10, 17, 0), _ct(2024, 1, 10, 18, 0))
    kinds = _kinds(bars)
    assert kinds["unexpected"] == 1
    assert kinds["daily_break"] == 3


def test_missing_open_trading_day_is_unexpected_not_holiday(week: pl.DataFrame) -> None:
    # Wednesday Jan 10 is a normal CME trading day: data without it has an outage, not a holiday.
    bars = week.filter(pl.col("trading_day") != date(2024, 1, 10))
    assert _kinds(bars) == {"weekend": 1, "daily_break": 2, "holiday": 1, "intra_session": 0, "unexpected": 1}


def test_exchange_closure_is_a_holiday() -> None:
    # Christmas 2023 (Monday): CME equity closed; Fri Dec 22 → Tue Dec 26.
    bars = _full_days(date(2023, 12, 21), 4 * 1380)
    days = bars["trading_day"].unique().sort().to_list()
    assert date(2023, 12, 25) not in days
    kinds = _kinds(bars)
    assert kinds["holiday"] >= 1
    assert kinds["weekend"] == 0  # the long weekend counts as the holiday
    assert kinds["unexpected"] == 0


def test_validate_report_carries_gap_kinds(week: pl.DataFrame) -> None:
    raw = week.select("timestamp", "open", "high", "low", "close", "volume").with_row_index("row", offset=1)
    raw = raw.with_columns(pl.col("row").cast(pl.Int64))
    _, report = validate_bars(
        raw, path="week.parquet", instrument=get_instrument("MES"), policies=ValidationPolicies()
    )
    assert report.gaps["by_kind"] == _kinds(week)
    assert report.gaps["largest_minutes"] == pytest.approx(2 * 1440 + 60 + 1)  # Fri 16:00 → Sun 17:01
    assert report.trading_days == 7
    assert report.findings["out_of_session"].count == 0


def test_continuous_session_gaps_are_intra_session() -> None:
    btc = get_instrument("BTCX", tick_size=0.5, point_value=1.0, session="crypto_24x7")
    bars = generate_bars(
        3000, instrument=btc, start=date(2024, 1, 5), seed=1, missing_minute_rate=0.0, outages_per_100k=0.0
    )
    bars = attach_sessions(bars.filter(pl.int_range(pl.len()).is_between(1440 - 2, 1440 + 2).not_()), btc)
    gaps = classify_gaps(bars, btc, unexpected_minutes=30)
    assert gaps["count"] == 1
    assert gaps["by_kind"]["intra_session"] == 1
