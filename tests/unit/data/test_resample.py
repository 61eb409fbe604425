"""Resample: the ladder matches a slow pandas reference, across the daily break, weekends, DST and early closes."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pandas_market_calendars as mcal
import polars as pl
import pytest

from mlfactory.data.instruments import get_instrument
from mlfactory.data.resample import build_ladder, resample, to_ladder_frame_1m
from mlfactory.data.sessions import attach_sessions
from mlfactory.data.synthetic import generate_bars
from mlfactory.errors import DataError
from mlfactory.timeframes import LADDER, tf_minutes

TZ = "America/Chicago"
MIN = pd.Timedelta(minutes=1)

# Start dates whose first days cross a weekend and a DST change (Mar 10, Nov 3 2024) or
# Thanksgiving (closed Nov 23, 2023, early close Nov 24).
STARTS = {"spring_dst": date(2024, 3, 7), "fall_dst": date(2024, 10, 31), "thanksgiving": date(2023, 11, 21)}


def reference_ladder(bars: pd.DataFrame, tf: str, calendar: str = "CME_Equity") -> pd.DataFrame:
    """Obvious reference: each minute goes to the bin counted from its session open; stamp = min(bin end, close)."""
    ts = bars["timestamp"]
    bar_open = (ts - MIN).dt.tz_convert(TZ)
    local_day = bar_open.dt.tz_localize(None).dt.normalize()
    trading_day = local_day + pd.to_timedelta((bar_open.dt.hour >= 17).astype(int), unit="D")
    session_open = (trading_day - pd.Timedelta(days=1) + pd.Timedelta(hours=17)).dt.tz_localize(TZ)
    template_close = (trading_day + pd.Timedelta(hours=16)).dt.tz_localize(TZ)
    sched = mcal.get_calendar(calendar).schedule(
        start_date=trading_day.min().date(), end_date=trading_day.max().date()
    )
    cal_close = trading_day.map(dict(zip(sched.index, sched["market_close"], strict=True)))
    session_close = np.minimum(template_close.dt.tz_convert("UTC"), pd.to_datetime(cal_close, utc=True))
    session_open = session_open.dt.tz_convert("UTC")
    if tf == "1d":
        bin_start, bin_end = session_open, session_close
    else:
        width = pd.Timedelta(minutes=tf_minutes(tf))
        bin_start = session_open + ((ts - MIN) - session_open) // width * width
        bin_end = np.minimum(bin_start + width, session_close)
    frame = bars.assign(trading_day=trading_day, bin_start=bin_start, bin_end=bin_end)
    out = (
        frame.groupby(["trading_day", "bin_start"], sort=True)
        .agg(
            timestamp=("bin_end", "first"),
            open=("open", "first"),
            high=("high", "max"),
            low=("low", "min"),
            close=("close", "last"),
            volume=("volume", "sum"),
            n_minutes=("open", "size"),
        )
        .reset_index()
    )
    out["complete"] = (out["bin_start"] >= ts.iloc[0] - MIN) & (out["timestamp"] <= ts.iloc[-1])
    return out


@pytest.fixture(scope="module", params=list(STARTS))
def one_minute(request: pytest.FixtureRequest) -> pl.DataFrame:
    """About four trading days of bars with missing minutes and outages, cut mid-bin at both ends."""
    bars = generate_bars(5_600, start=STARTS[request.param], seed=3, outages_per_100k=40.0)
    return attach_sessions(bars.slice(7, bars.height - 20), get_instrument("MES"))


@pytest.mark.parametrize("tf", LADDER)
def test_matches_reference(one_minute: pl.DataFrame, tf: str) -> None:
    ref = reference_ladder(
        one_minute.select("timestamp", "open", "high", "low", "close", "volume").to_pandas(), tf
    )
    got = resample(one_minute, tf, partial="flag")
    assert got.height == len(ref)
    assert got["timestamp"].dt.epoch("ns").to_list() == ref["timestamp"].astype("int64").tolist()
    for col in ("open", "high", "low", "close", "volume"):
        assert got[col].to_list() == ref[col].tolist(), col
    assert got["n_minutes"].to_list() == ref["n_minutes"].tolist()
    assert got["trading_day"].to_list() == [d.date() for d in ref["trading_day"]]
    assert got["complete"].to_list() == ref["complete"].tolist()
    assert (
        got["session_open"].dt.epoch("ns").to_list()
        == ref["trading_day"].map(lambda d: pd.Timestamp(d - pd.Timedelta(hours=7), tz=TZ).value).tolist()
    )
    # Default: the partial bars at the data's ends are dropped, nothing else.
    dropped = resample(one_minute, tf)
    assert dropped.equals(got.filter(pl.col("complete")))
    assert 1 <= (~got["complete"]).sum() <= 2


def test_data_covers_the_events_it_should(one_minute: pl.DataFrame) -> None:
    steps = one_minute["timestamp"].diff().dt.total_minutes().drop_nulls()
    assert (steps > 2 * 1440).any()  # a weekend
    assert ((steps > 59) & (steps < 120)).sum() >= 2  # daily breaks
    offsets = one_minute.select(
        pl.col("timestamp").dt.convert_time_zone(TZ).dt.dst_offset().n_unique()
    ).item()
    trading_days = one_minute["trading_day"].unique().to_list()
    assert offsets == 2 or date(2023, 11, 24) in trading_days


@pytest.mark.parametrize("tf", LADDER)
def test_no_bar_spans_a_session_boundary(one_minute: pl.DataFrame, tf: str) -> None:
    """Map each minute to the first bar stamped at or after it; that bar must hold it within its session."""
    bars = resample(one_minute, tf, partial="flag")
    stamps = bars["timestamp"].dt.epoch("ns").to_numpy()
    ts = one_minute["timestamp"].dt.epoch("ns").to_numpy()
    idx = np.searchsorted(stamps, ts, side="left")
    assert (idx < len(stamps)).all()
    assert np.bincount(idx, minlength=len(stamps)).tolist() == bars["n_minutes"].to_list()
    day = one_minute["trading_day"].to_numpy()
    assert (bars["trading_day"].to_numpy()[idx] == day).all()
    s_open = bars["session_open"].dt.epoch("ns").to_numpy()[idx]
    s_close = bars["session_close"].dt.epoch("ns").to_numpy()[idx]
    assert ((ts > s_open) & (ts <= s_close)).all()
    assert (stamps <= bars["session_close"].dt.epoch("ns").to_numpy()).all()
    if tf != "1d":
        width = tf_minutes(tf) * 60 * 10**9
        assert (ts > stamps[idx] - width).all()
    else:
        assert bars["trading_day"].is_unique().all()


def test_partial_bars_dropped_by_default_and_flagged_on_request() -> None:
    bars = generate_bars(2_000, start=date(2024, 1, 9), seed=4, missing_minute_rate=0.0, outages_per_100k=0.0)
    one = attach_sessions(bars.slice(3, 1_000), get_instrument("MES"))  # starts 3 min into the session
    flagged = resample(one, "15m", partial="flag")
    assert flagged["complete"].to_list()[0] is False
    assert flagged["n_minutes"][0] == 12
    assert flagged["complete"][-1] == (1_003 % 15 == 0)
    assert flagged["complete"][1:-1].all()
    dropped = resample(one, "15m")
    assert dropped.height == flagged["complete"].sum()
    assert dropped["timestamp"][0] == flagged["timestamp"][1]
    with pytest.raises(DataError, match="partial"):
        resample(one, "15m", partial="keep")  # type: ignore[arg-type]


def test_build_ladder_has_every_timeframe_from_one_minute(one_minute: pl.DataFrame) -> None:
    ladder = build_ladder(one_minute, LADDER, partial="flag")
    assert list(ladder) == ["1m", *LADDER]
    total = one_minute["volume"].sum()
    for tf, frame in ladder.items():
        assert frame["volume"].sum() == pytest.approx(total), tf
        assert frame["n_minutes"].sum() == one_minute.height, tf
        assert frame["timestamp"].is_sorted() and frame["timestamp"].is_unique().all(), tf
    assert ladder["1m"].equals(to_ladder_frame_1m(one_minute))


def test_resample_requires_session_columns() -> None:
    bars = generate_bars(100, seed=1)
    with pytest.raises(DataError, match="session columns"):
        resample(bars, "5m")


@pytest.mark.parametrize("tf", LADDER[:-1])
def test_minutes_after_the_close_never_move_the_bar_stamped_at_the_close(tf: str) -> None:
    """Prints after an early close (kept with a warning) form their own bar; the bar cut at the close stays."""
    mes = get_instrument("MES")
    bars = generate_bars(
        3_000, start=date(2023, 11, 22), seed=5, missing_minute_rate=0.0, outages_per_100k=0.0
    )
    one = attach_sessions(bars, mes)
    day = one.filter(pl.col("trading_day") == date(2023, 11, 23))  # Thanksgiving: closes 12:00 CT
    close = day["session_close"][0]
    assert day["timestamp"][-1] == close
    last = day.tail(1).select("timestamp", "open", "high", "low", "close", "volume")
    strays = pl.concat([last.with_columns(pl.col("timestamp").dt.offset_by(f"{m}m")) for m in (3, 14)])
    with_strays = attach_sessions(
        pl.concat([bars, strays]).sort("timestamp"), mes
    )  # what validate_bars keeps under out_of_session=warn
    before = resample(one, tf, partial="flag")
    after = resample(with_strays, tf, partial="flag")
    at_or_before = pl.col("timestamp") <= close
    assert after.filter(at_or_before).equals(before.filter(at_or_before))
    late = after.filter((pl.col("trading_day") == date(2023, 11, 23)) & (pl.col("timestamp") > close))
    assert late["n_minutes"].sum() == 2
    assert late["timestamp"].min() >= close + pd.Timedelta(minutes=3)
    assert late["timestamp"].max() >= close + pd.Timedelta(minutes=14)
