"""Synthetic 1-minute bars on the real MES Globex session calendar, and a simple resampler."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from mlfactory.data.instruments import Instrument
from mlfactory.data.sessions import attach_sessions

START = "2024-03-03 22:00"  # Sunday 17:00 Chicago: the Globex week opens (DST starts 2024-03-10)


def random_walk_bars(instrument: Instrument, n_minutes: int, seed: int, start: str = START) -> pl.DataFrame:
    """About ``n_minutes`` in-session 1-minute bars of a seeded random walk, with a few missing minutes."""
    rng = np.random.default_rng(seed)
    span = int(n_minutes * 1.45) + 3000  # room for the daily breaks and weekends
    stamps = np.datetime64(start, "ns") + np.arange(1, span + 1) * np.timedelta64(1, "m")
    ts = pl.Series("timestamp", stamps).dt.replace_time_zone("UTC")
    frame = attach_sessions(pl.DataFrame({"timestamp": ts}), instrument)
    in_session = (
        (frame["timestamp"] > frame["session_open"])
        & (frame["timestamp"] <= frame["session_close"])
        & (frame["trading_day"].dt.weekday() <= 5)
    )
    keep = in_session & pl.Series(rng.random(frame.height) > 0.003)  # ~0.3% minutes without trades
    frame = frame.filter(keep).head(n_minutes)
    n = frame.height
    tick = instrument.tick_size
    close = 5000.0 * np.exp(np.cumsum(rng.normal(0.0, 3e-4, n)))
    close = np.round(close / tick) * tick
    open_ = np.empty(n)
    open_[0] = close[0]
    open_[1:] = close[:-1] + tick * rng.integers(-1, 2, n - 1)
    spread_up = tick * rng.integers(0, 4, n)
    spread_dn = tick * rng.integers(0, 4, n)
    high = np.maximum(open_, close) + spread_up
    low = np.minimum(open_, close) - spread_dn
    volume = np.floor(rng.lognormal(5.0, 1.0, n)) + 1.0
    return frame.select(
        "timestamp",
        pl.Series("open", open_),
        pl.Series("high", high),
        pl.Series("low", low),
        pl.Series("close", close),
        pl.Series("volume", volume),
        "trading_day",
        "session_open",
        "session_close",
    )


def resample_bars(bars_1m: pl.DataFrame, every: str) -> pl.DataFrame:
    """Right-closed, right-labelled bins per session (stamp = bin close), as the ladder does."""
    return (
        bars_1m.group_by_dynamic(
            "timestamp", every=every, closed="right", label="right", group_by="session_open"
        )
        .agg(
            pl.col("open").first(),
            pl.col("high").max(),
            pl.col("low").min(),
            pl.col("close").last(),
            pl.col("volume").sum(),
            pl.col("trading_day").first(),
            pl.col("session_close").first(),
        )
        .sort("timestamp")
        .select(
            "timestamp",
            "open",
            "high",
            "low",
            "close",
            "volume",
            "trading_day",
            "session_open",
            "session_close",
        )
    )


@pytest.fixture(scope="session")
def resample_to():
    """``resample_to(bars_1m, "15m")``: the test resampler."""
    return resample_bars


@pytest.fixture(scope="session")
def make_session_bars():
    """``make_session_bars(instrument, n_minutes, seed)``: seeded random-walk 1-minute bars with sessions."""
    return random_walk_bars


@pytest.fixture(scope="session")
def bars_1m(mes: Instrument) -> pl.DataFrame:
    """3,000 one-minute bars (a little over two Globex sessions)."""
    return random_walk_bars(mes, 3000, seed=7)


@pytest.fixture(scope="session")
def bars_1m_long(mes: Instrument) -> pl.DataFrame:
    """8,500 one-minute bars: enough 15m bars (~570) to pass every 15m warm-up."""
    return random_walk_bars(mes, 8500, seed=11)


@pytest.fixture(scope="session")
def bars_15m(bars_1m_long: pl.DataFrame) -> pl.DataFrame:
    return resample_bars(bars_1m_long, "15m")
