"""Calendar and session: cyclical time of day (exchange timezone), day of week, time in session, regional hours.

Regional flags use each region's own cash-market hours in its own timezone (so they follow DST):
Asia = Tokyo 09:00–15:00, Europe = London 08:00–16:30, US = New York 09:30–16:00, Monday–Friday.
A bar is flagged when its close falls inside ``(open, close]``.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from mlfactory.features.context import BarContext
from mlfactory.features.spec import GroupBuilder

MINUTE_NS = 60_000_000_000
REGIONS: dict[str, tuple[str, int, int]] = {
    "asia": ("Asia/Tokyo", 9 * 60, 15 * 60),
    "europe": ("Europe/London", 8 * 60, 16 * 60 + 30),
    "us": ("America/New_York", 9 * 60 + 30, 16 * 60),
}


def _local_clock(ts: np.ndarray, tz: str) -> tuple[np.ndarray, np.ndarray]:
    """Minute of day and weekday (1 = Monday) of UTC nanosecond stamps in timezone ``tz``."""
    local = pl.Series(ts).cast(pl.Datetime("ns", "UTC")).dt.convert_time_zone(tz)
    frame = pl.DataFrame({"t": local}).select(
        (pl.col("t").dt.hour().cast(pl.Int32) * 60 + pl.col("t").dt.minute()).alias("mod"),
        pl.col("t").dt.weekday().alias("dow"),
    )
    return frame["mod"].to_numpy().astype(np.float64), frame["dow"].to_numpy().astype(np.float64)


def exchange_minute_of_day(c: BarContext) -> np.ndarray:
    return c.memo("exchange_mod", lambda: _local_clock(c.ts, c.instrument.timezone)[0])


def trading_weekday(c: BarContext) -> np.ndarray:
    """0 = Monday … 6 = Sunday of the bar's trading day (a Sunday-evening CME bar belongs to Monday)."""
    days = c.trading_day.astype(np.int64)  # days since 1970-01-01, a Thursday
    return ((days + 3) % 7).astype(np.float64)


def trading_month(c: BarContext) -> np.ndarray:
    """0 = January … 11 = December of the bar's trading day."""
    return (c.trading_day.astype("datetime64[M]").astype(np.int64) % 12).astype(np.float64)


def region_open(c: BarContext, region: str) -> np.ndarray:
    tz, open_min, close_min = REGIONS[region]
    mod, dow = _local_clock(c.ts, tz)
    return ((mod > open_min) & (mod <= close_min) & (dow <= 5)).astype(np.float64)


def _add_cyclical(g: GroupBuilder, name: str, value, period: float, what: str) -> None:
    """``<name>_sin`` and ``<name>_cos`` of ``value(c)`` on a circle of length ``period``."""
    for fn_name, fn in (("sin", np.sin), ("cos", np.cos)):
        g.add(
            f"{name}_{fn_name}",
            lambda c, fn=fn: fn(2.0 * np.pi * value(c) / period),
            warmup=0,
            window_only=True,
            kind="raw",
            desc=f"{'sine' if fn_name == 'sin' else 'cosine'} of {what}",
        )


def build(g: GroupBuilder) -> None:
    _add_cyclical(g, "dow", trading_weekday, 7.0, "the trading day's weekday")
    g.add(
        "day_of_week",
        trading_weekday,
        warmup=0,
        window_only=True,
        kind="raw",
        desc="weekday of the trading day, 0 = Monday",
    )
    _add_cyclical(g, "month", trading_month, 12.0, "the trading day's month")
    if not g.intraday:
        return
    _add_cyclical(
        g, "tod", exchange_minute_of_day, 1440.0, "the bar close's time of day in the exchange timezone"
    )
    g.add(
        "minutes_since_open",
        lambda c: (c.ts - c.session_open).astype(np.float64) / MINUTE_NS,
        warmup=0,
        window_only=True,
        kind="raw",
        desc="minutes from the exchange session open to the bar close",
    )
    g.add(
        "minutes_to_close",
        lambda c: (c.session_close - c.ts).astype(np.float64) / MINUTE_NS,
        warmup=0,
        window_only=True,
        kind="raw",
        desc="minutes from the bar close to the scheduled session close (calendar, known in advance)",
    )
    g.add(
        "session_progress",
        lambda c: (
            (c.ts - c.session_open).astype(np.float64)
            / np.maximum(c.session_close - c.session_open, MINUTE_NS)
        ),
        warmup=0,
        window_only=True,
        kind="raw",
        desc="fraction of the scheduled session elapsed at the bar close",
    )
    for region in REGIONS:
        g.add(
            f"session_{region}",
            lambda c, region=region: region_open(c, region),
            warmup=0,
            window_only=True,
            kind="raw",
            desc=f"1 while the {region} cash market is open ({REGIONS[region][0]} local hours), else 0",
        )
