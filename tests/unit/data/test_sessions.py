"""Sessions: trading-day assignment, DST-correct open/close in UTC, calendar holidays and early closes."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pytest

from mlfactory.data.instruments import get_instrument
from mlfactory.data.sessions import attach_sessions, build_session_table, trading_day_expr

CHICAGO = ZoneInfo("America/Chicago")
UTC = ZoneInfo("UTC")


def _ns(t: datetime) -> int:
    return int(t.timestamp()) * 10**9


def _frame(local_closes: list[datetime]) -> pl.DataFrame:
    ns = [_ns(t) for t in local_closes]
    return pl.DataFrame({"timestamp": pl.Series(ns).cast(pl.Datetime("ns", "UTC"))})


def _table(symbol: str, days: list[str]):
    return build_session_table(get_instrument(symbol), np.array(days, dtype="datetime64[D]"))


@pytest.mark.parametrize(
    ("local_close", "day"),
    [
        (datetime(2024, 1, 9, 16, 0, tzinfo=CHICAGO), date(2024, 1, 9)),  # last bar of Tuesday's session
        (datetime(2024, 1, 9, 17, 0, tzinfo=CHICAGO), date(2024, 1, 9)),  # bar 16:59-17:00, in the break
        (datetime(2024, 1, 9, 17, 1, tzinfo=CHICAGO), date(2024, 1, 10)),  # first bar of Wednesday's session
        (datetime(2024, 1, 9, 23, 59, tzinfo=CHICAGO), date(2024, 1, 10)),
        (datetime(2024, 1, 10, 0, 0, tzinfo=CHICAGO), date(2024, 1, 10)),
        (datetime(2024, 1, 7, 17, 1, tzinfo=CHICAGO), date(2024, 1, 8)),  # Sunday evening → Monday
        (datetime(2024, 3, 10, 17, 1, tzinfo=CHICAGO), date(2024, 3, 11)),  # first CDT session
        (datetime(2024, 11, 3, 17, 1, tzinfo=CHICAGO), date(2024, 11, 4)),  # first CST session
    ],
)
def test_trading_day_assignment(local_close: datetime, day: date) -> None:
    got = _frame([local_close]).select(trading_day_expr(get_instrument("MES")))
    assert got.item() == day


def test_trading_day_in_utc_across_the_dst_change() -> None:
    # 22:01 UTC is 17:01 CDT (next trading day) in summer but 16:01 CST (in the break, same day) in winter.
    summer = datetime(2024, 7, 9, 22, 1, tzinfo=UTC)
    winter = datetime(2024, 1, 9, 22, 1, tzinfo=UTC)
    got = _frame([winter, summer]).select(trading_day_expr(get_instrument("MES")))["timestamp"].to_list()
    assert got == [date(2024, 1, 9), date(2024, 7, 10)]


@pytest.mark.parametrize(
    ("day", "open_utc", "close_utc"),
    [
        ("2024-03-08", datetime(2024, 3, 7, 23, 0), datetime(2024, 3, 8, 22, 0)),  # CST
        ("2024-03-11", datetime(2024, 3, 10, 22, 0), datetime(2024, 3, 11, 21, 0)),  # first CDT day
        ("2024-11-01", datetime(2024, 10, 31, 22, 0), datetime(2024, 11, 1, 21, 0)),  # CDT
        ("2024-11-04", datetime(2024, 11, 3, 23, 0), datetime(2024, 11, 4, 22, 0)),  # first CST day
    ],
)
def test_session_open_close_are_dst_correct(day: str, open_utc: datetime, close_utc: datetime) -> None:
    t = _table("MES", [day])
    assert t.open_ns.tolist() == [_ns(open_utc.replace(tzinfo=UTC))]
    assert t.close_ns.tolist() == [_ns(close_utc.replace(tzinfo=UTC))]
    assert t.is_calendar_day.tolist() == [True]
    assert t.early_close.tolist() == [False]


def test_early_close_from_the_calendar() -> None:
    t = _table("MES", ["2025-07-02", "2025-07-03", "2025-07-07"])
    assert t.early_close.tolist() == [False, True, False]
    # pandas-market-calendars' CME_Equity closes 2025-07-03 at 12:00 CT (17:00 UTC), not the template 16:00.
    assert t.close_ns[1] == _ns(datetime(2025, 7, 3, 12, 0, tzinfo=CHICAGO))
    assert t.close_ns[0] == _ns(datetime(2025, 7, 2, 16, 0, tzinfo=CHICAGO))
    assert t.open_ns[1] == _ns(datetime(2025, 7, 2, 17, 0, tzinfo=CHICAGO))


def test_holidays_and_weekends_are_not_calendar_days() -> None:
    t = _table("MES", ["2023-12-22", "2023-12-23", "2023-12-25", "2023-12-26"])
    assert t.is_calendar_day.tolist() == [True, False, False, True]


def test_calendar_works_far_back_and_on_weekend_only_data() -> None:
    # No exchange day in the range: an empty schedule must not crash.
    t = _table("MES", ["2024-01-06"])
    assert t.is_calendar_day.tolist() == [False]
    # The calendar covers decades of history, not a hand-kept list of recent years.
    old = _table("ES", ["2008-12-24", "2008-12-25"])
    assert old.is_calendar_day.tolist() == [True, False]
    assert old.early_close.tolist() == [True, False]


def test_attach_sessions_columns_and_order() -> None:
    closes = [datetime(2024, 1, 9, 16, 0, tzinfo=CHICAGO), datetime(2024, 1, 9, 17, 1, tzinfo=CHICAGO)]
    out = attach_sessions(_frame(closes), get_instrument("MES"))
    assert out.columns == ["timestamp", "trading_day", "session_open", "session_close"]
    assert out["trading_day"].to_list() == [date(2024, 1, 9), date(2024, 1, 10)]
    assert out.schema["session_open"] == pl.Datetime("ns", "UTC")
    opens = out["session_open"].dt.epoch("ns").to_list()
    assert opens == [
        _ns(datetime(2024, 1, 8, 17, 0, tzinfo=CHICAGO)),
        _ns(datetime(2024, 1, 9, 17, 0, tzinfo=CHICAGO)),
    ]
    closes_ns = out["session_close"].dt.epoch("ns").to_list()
    assert closes_ns == [_ns(closes[0]), _ns(datetime(2024, 1, 10, 16, 0, tzinfo=CHICAGO))]


def test_continuous_session_uses_utc_days() -> None:
    btc = get_instrument("BTCX", tick_size=0.5, point_value=1.0, session="crypto_24x7")
    closes = [datetime(2024, 1, 6, 0, 0, tzinfo=UTC), datetime(2024, 1, 6, 0, 1, tzinfo=UTC)]
    out = attach_sessions(_frame(closes), btc)
    assert out["trading_day"].to_list() == [date(2024, 1, 5), date(2024, 1, 6)]  # a Saturday trades
    assert out["session_close"].dt.epoch("ns").to_list()[1] == _ns(datetime(2024, 1, 7, tzinfo=UTC))
