"""Exchange trading sessions: which trading day a bar belongs to, and that session's open and close.

A CME Globex trading day ``D`` runs from 17:00 Chicago on the previous calendar day to 16:00 on ``D``
(with the daily 16:00–17:00 break between days). A bar stamped at close ``ts`` covers
``(ts - 1 min, ts]``, so it belongs to the trading day of ``ts - 1 min`` shifted forward by the time
from the session open to midnight. Holidays and early closes come from pandas-market-calendars
when the instrument names a calendar; the template hours apply otherwise. Continuous (24/7)
sessions use UTC calendar days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import numpy as np
import polars as pl

from mlfactory.data.instruments import Instrument
from mlfactory.errors import ConfigError

MINUTE_NS = 60_000_000_000
DAY_NS = 1440 * MINUTE_NS


@dataclass(frozen=True)
class SessionTable:
    """One row per trading day present in the data: open/close in int64 ns UTC, sorted by day."""

    trading_day: np.ndarray  # datetime64[D]
    open_ns: np.ndarray
    close_ns: np.ndarray
    is_calendar_day: np.ndarray  # bool: the exchange calendar lists this trading day
    early_close: np.ndarray  # bool: the calendar closes earlier than the template

    def to_frame(self) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "trading_day": self.trading_day,
                "session_open": self.open_ns,
                "session_close": self.close_ns,
                "is_calendar_day": self.is_calendar_day,
                "early_close": self.early_close,
            }
        ).with_columns(
            pl.col("session_open").cast(pl.Datetime("ns", "UTC")),
            pl.col("session_close").cast(pl.Datetime("ns", "UTC")),
        )


def trading_day_expr(instrument: Instrument, ts: pl.Expr | None = None) -> pl.Expr:
    """Polars expression giving the trading day (Date) of bars stamped at ``ts`` (bar close, UTC)."""
    ts = pl.col("timestamp") if ts is None else ts
    spec = instrument.session
    bar_open = ts - pl.duration(minutes=1)
    if spec.kind == "continuous":
        return bar_open.dt.convert_time_zone(spec.timezone).dt.date()
    shift = (1440 - spec.open_minute) % 1440
    return (bar_open.dt.convert_time_zone(spec.timezone) + pl.duration(minutes=shift)).dt.date()


@lru_cache(maxsize=256)  # the live path validates one bar at a time: same days, same schedule
def _calendar_schedule(name: str, first: date, last: date) -> pl.DataFrame:
    import pandas_market_calendars as mcal

    try:
        cal = mcal.get_calendar(name)
    except Exception as exc:  # pandas-market-calendars raises bare RuntimeError/KeyError for unknown names
        raise ConfigError(
            f"instrument calendar {name!r} is not a pandas-market-calendars calendar: {exc}"
        ) from exc
    sched = cal.schedule(start_date=first.isoformat(), end_date=last.isoformat())
    if sched.empty:  # no exchange day in the range (e.g. only weekend bars): pandas loses the dtypes
        return pl.DataFrame(schema={"trading_day": pl.Date, "cal_close": pl.Int64})
    return pl.DataFrame(
        {
            "trading_day": np.asarray(sched.index.values, dtype="datetime64[D]"),
            "cal_close": sched["market_close"]
            .dt.tz_convert("UTC")
            .dt.tz_localize(None)
            .values.astype("datetime64[ns]")
            .astype(np.int64),
        }
    )


def build_session_table(instrument: Instrument, trading_days: np.ndarray) -> SessionTable:
    """Open/close of each trading day in ``trading_days`` (datetime64[D], unique, sorted)."""
    spec = instrument.session
    days = pl.DataFrame({"trading_day": np.asarray(trading_days, dtype="datetime64[D]")}).with_columns(
        pl.col("trading_day").cast(pl.Date)
    )
    if days.height == 0:
        empty = np.array([], dtype=np.int64)
        return SessionTable(
            np.array([], dtype="datetime64[D]"), empty, empty, np.array([], bool), np.array([], bool)
        )
    if spec.kind == "continuous":
        open_local = pl.col("trading_day").cast(pl.Datetime("ns"))
        close_local = open_local + pl.duration(days=1)
    else:
        open_day_offset = 1 if spec.open_minute > spec.close_minute else 0
        open_local = (pl.col("trading_day") - pl.duration(days=open_day_offset)).cast(
            pl.Datetime("ns")
        ) + pl.duration(minutes=spec.open_minute)
        close_local = pl.col("trading_day").cast(pl.Datetime("ns")) + pl.duration(minutes=spec.close_minute)
    try:
        frame = days.with_columns(
            open_local.dt.replace_time_zone(spec.timezone, ambiguous="earliest", non_existent="null")
            .dt.convert_time_zone("UTC")
            .dt.cast_time_unit("ns")
            .alias("session_open"),
            close_local.dt.replace_time_zone(spec.timezone, ambiguous="earliest", non_existent="null")
            .dt.convert_time_zone("UTC")
            .dt.cast_time_unit("ns")
            .alias("session_close"),
        )
    except Exception as exc:
        raise ConfigError(
            f"session timezone {spec.timezone!r} of {instrument.symbol} cannot be applied: {exc}"
        ) from exc
    if frame["session_open"].null_count() or frame["session_close"].null_count():
        raise ConfigError(
            f"session hours of {instrument.symbol} fall in a non-existent local time ({spec.timezone})"
        )
    frame = frame.with_columns(
        pl.col("session_open").dt.epoch("ns").alias("open_ns"),
        pl.col("session_close").dt.epoch("ns").alias("close_ns"),
    )
    if instrument.calendar and spec.kind == "exchange":
        first, last = frame["trading_day"].min(), frame["trading_day"].max()
        sched = _calendar_schedule(instrument.calendar, first, last).with_columns(
            pl.col("trading_day").cast(pl.Date)
        )
        frame = frame.join(sched, on="trading_day", how="left", maintain_order="left")
        frame = frame.with_columns(
            pl.col("cal_close").is_not_null().alias("is_calendar_day"),
            (pl.col("cal_close").is_not_null() & (pl.col("cal_close") < pl.col("close_ns"))).alias(
                "early_close"
            ),
            pl.min_horizontal(pl.col("close_ns"), pl.col("cal_close").fill_null(pl.col("close_ns"))).alias(
                "close_ns"
            ),
        )
    else:
        frame = frame.with_columns(pl.lit(True).alias("is_calendar_day"), pl.lit(False).alias("early_close"))
    return SessionTable(
        trading_day=frame["trading_day"].to_numpy().astype("datetime64[D]"),
        open_ns=frame["open_ns"].to_numpy(),
        close_ns=frame["close_ns"].to_numpy(),
        is_calendar_day=frame["is_calendar_day"].to_numpy(),
        early_close=frame["early_close"].to_numpy(),
    )


def attach_sessions(bars: pl.DataFrame, instrument: Instrument) -> pl.DataFrame:
    """Add ``trading_day``, ``session_open`` and ``session_close`` (UTC) columns to 1-minute bars."""
    with_day = bars.with_columns(trading_day_expr(instrument).alias("trading_day"))
    days = with_day["trading_day"].unique().sort().to_numpy()
    table = (
        build_session_table(instrument, days)
        .to_frame()
        .select("trading_day", "session_open", "session_close")
    )
    return with_day.join(table, on="trading_day", how="left", maintain_order="left")
