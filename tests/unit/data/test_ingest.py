"""Ingest: file formats, column-name variants, epoch and ISO times, timezones, DST and the stamp convention."""

from __future__ import annotations

import gzip
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pytest

from mlfactory.data.ingest import ingest
from mlfactory.errors import DataError

CHICAGO = ZoneInfo("America/Chicago")
UTC = ZoneInfo("UTC")
# Tue 2024-01-09 09:01..09:05 Chicago (CST, UTC-6) = 15:01..15:05 UTC.
LOCAL = [datetime(2024, 1, 9, 9, 1) + timedelta(minutes=i) for i in range(5)]
UTC_NS = np.array([int(t.replace(tzinfo=CHICAGO).timestamp()) * 10**9 for t in LOCAL])
OPEN = [100.0, 101.0, 102.0, 101.5, 100.25]
HIGH = [101.5, 102.5, 102.75, 102.0, 101.0]
LOW = [99.5, 100.5, 101.0, 100.0, 99.75]
CLOSE = [101.0, 102.0, 101.5, 100.25, 100.5]
VOLUME = [10, 20, 30, 40, 50]


def _epoch_ns(df: pl.DataFrame) -> np.ndarray:
    return df["timestamp"].dt.epoch("ns").to_numpy()


def _assert_canonical(df: pl.DataFrame) -> None:
    assert df.columns == ["timestamp", "open", "high", "low", "close", "volume", "row"]
    assert df.schema["timestamp"] == pl.Datetime("ns", "UTC")
    assert _epoch_ns(df).tolist() == UTC_NS.tolist()
    assert df["open"].to_list() == OPEN
    assert df["high"].to_list() == HIGH
    assert df["low"].to_list() == LOW
    assert df["close"].to_list() == CLOSE
    assert df["volume"].to_list() == [float(v) for v in VOLUME]
    assert df["row"].to_list() == [1, 2, 3, 4, 5]


def _iso(ts: list[datetime]) -> list[str]:
    return [t.strftime("%Y-%m-%d %H:%M:%S") for t in ts]


@pytest.mark.parametrize(
    ("time_cols", "names"),
    [
        (["Timestamp"], ["Open", "High", "Low", "Close", "Volume"]),
        (["Datetime"], ["o", "h", "l", "c", "v"]),
        (["DATE", "TIME"], ["open", "high", "low", "close", "vol"]),
        (["time"], ["O", "H", "L", "C", "Vol"]),
        (["<DATE>", "<TIME>"], ["<OPEN>", "<HIGH>", "<LOW>", "<CLOSE>", "<VOL>"]),
    ],
)
def test_column_name_variants(tmp_path: Path, time_cols: list[str], names: list[str]) -> None:
    if len(time_cols) == 2:
        times = {
            time_cols[0]: [t.strftime("%Y-%m-%d") for t in LOCAL],
            time_cols[1]: [t.strftime("%H:%M:%S") for t in LOCAL],
        }
    else:
        times = {time_cols[0]: _iso(LOCAL)}
    values = dict(zip(names, [OPEN, HIGH, LOW, CLOSE, VOLUME], strict=True))
    path = tmp_path / "bars.csv"
    pl.DataFrame({**times, "extra": ["x"] * 5, **values}).write_csv(path)
    _assert_canonical(ingest(path, timezone="America/Chicago"))


@pytest.mark.parametrize("unit", ["s", "ms", "ns"])
def test_epoch_units_are_utc(tmp_path: Path, unit: str) -> None:
    div = {"s": 10**9, "ms": 10**6, "ns": 1}[unit]
    path = tmp_path / "bars.csv"
    cols = {"open": OPEN, "high": HIGH, "low": LOW, "close": CLOSE, "volume": VOLUME}
    pl.DataFrame({"timestamp": UTC_NS // div, **cols}).write_csv(path)
    # Epochs are UTC whatever the stated timezone.
    _assert_canonical(ingest(path, timezone="Asia/Tokyo"))


def test_float_epoch_seconds(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    cols = {"open": OPEN, "high": HIGH, "low": LOW, "close": CLOSE, "volume": VOLUME}
    pl.DataFrame({"timestamp": (UTC_NS // 10**9).astype(float) + 0.0, **cols}).write_csv(path)
    _assert_canonical(ingest(path, timezone="UTC"))


def test_iso_strings_with_offset_and_z(tmp_path: Path) -> None:
    cols = {"open": OPEN, "high": HIGH, "low": LOW, "close": CLOSE, "volume": VOLUME}
    utc = [datetime.fromtimestamp(int(n // 10**9), UTC) for n in UTC_NS]
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S+00:00"):
        path = tmp_path / "iso.csv"
        pl.DataFrame({"timestamp": [t.strftime(fmt) for t in utc], **cols}).write_csv(path)
        _assert_canonical(ingest(path, timezone="Asia/Tokyo"))


def test_csv_csv_gz_and_parquet_agree(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {"timestamp": _iso(LOCAL), "open": OPEN, "high": HIGH, "low": LOW, "close": CLOSE, "volume": VOLUME}
    )
    csv = tmp_path / "bars.csv"
    frame.write_csv(csv)
    gz = tmp_path / "bars.csv.gz"
    gz.write_bytes(gzip.compress(csv.read_bytes()))
    pq = tmp_path / "bars.parquet"
    frame.with_columns(pl.col("timestamp").str.to_datetime()).write_parquet(pq)
    for path in (csv, gz, pq):
        _assert_canonical(ingest(path, timezone="America/Chicago"))


def test_tz_aware_parquet_kept_in_utc(tmp_path: Path) -> None:
    pq = tmp_path / "bars.parquet"
    pl.DataFrame(
        {
            "timestamp": pl.Series(UTC_NS)
            .cast(pl.Datetime("ns", "UTC"))
            .dt.convert_time_zone("Europe/Berlin"),
            "open": OPEN,
            "high": HIGH,
            "low": LOW,
            "close": CLOSE,
            "volume": VOLUME,
        }
    ).write_parquet(pq)
    _assert_canonical(ingest(pq, timezone="America/Chicago"))


def test_naive_times_use_the_stated_timezone(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    cols = {"open": OPEN, "high": HIGH, "low": LOW, "close": CLOSE, "volume": VOLUME}
    pl.DataFrame({"timestamp": _iso(LOCAL), **cols}).write_csv(path)
    chicago = _epoch_ns(ingest(path, timezone="America/Chicago"))
    utc = _epoch_ns(ingest(path, timezone="UTC"))
    assert chicago.tolist() == UTC_NS.tolist()
    assert (chicago - utc).tolist() == [6 * 3600 * 10**9] * 5  # CST is UTC-6 in January


def test_bad_timezone_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    cols = {"open": OPEN, "high": HIGH, "low": LOW, "close": CLOSE, "volume": VOLUME}
    pl.DataFrame({"timestamp": _iso(LOCAL), **cols}).write_csv(path)
    with pytest.raises(DataError, match=r"(?s)Mars/Olympus.*--tz"):
        ingest(path, timezone="Mars/Olympus")


def test_dst_fall_back_repeated_hour_resolved_by_order(tmp_path: Path) -> None:
    # 2024-11-03 02:00 CDT → 01:00 CST: local closes 01:01..02:00 appear twice, in order.
    start = datetime(2024, 11, 3, 5, 30, tzinfo=UTC)
    utc = [start + timedelta(minutes=i) for i in range(150)]
    local = [t.astimezone(CHICAGO).replace(tzinfo=None) for t in utc]
    assert len(set(local)) < len(local)  # the repeated hour is really in the file
    path = tmp_path / "fallback.csv"
    n = len(utc)
    pl.DataFrame(
        {"timestamp": _iso(local), "open": [1.0] * n, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 1}
    ).write_csv(path)
    got = _epoch_ns(ingest(path, timezone="America/Chicago"))
    assert got.tolist() == [int(t.timestamp()) * 10**9 for t in utc]


def test_dst_spring_forward_missing_local_time_names_the_row(tmp_path: Path) -> None:
    path = tmp_path / "spring.csv"
    pl.DataFrame(
        {
            "timestamp": ["2024-03-10 01:58:00", "2024-03-10 01:59:00", "2024-03-10 02:30:00"],
            "open": 1.0,
            "high": 1.0,
            "low": 1.0,
            "close": 1.0,
            "volume": 1,
        }
    ).write_csv(path)
    with pytest.raises(DataError, match=r"spring\.csv: row 3: local time 2024-03-10 02:30:00 does not exist"):
        ingest(path, timezone="America/Chicago")
    # The same wall times are fine in a timezone without that DST change.
    assert ingest(path, timezone="UTC").height == 3


def test_stamp_open_shifts_by_one_minute(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    cols = {"open": OPEN, "high": HIGH, "low": LOW, "close": CLOSE, "volume": VOLUME}
    pl.DataFrame({"timestamp": _iso(LOCAL), **cols}).write_csv(path)
    close = _epoch_ns(ingest(path, timezone="America/Chicago", stamp="close"))
    opened = ingest(path, timezone="America/Chicago", stamp="open")
    assert opened.schema["timestamp"] == pl.Datetime("ns", "UTC")
    assert (_epoch_ns(opened) - close).tolist() == [60 * 10**9] * 5


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        ("timestamp,open,high,low,close\n2024-01-09 09:01:00,1,1,1,1\n", r"no 'volume' column"),
        ("stamp,open,high,low,close,volume\nx,1,1,1,1,1\n", r"no time column found"),
        ("timestamp,open,high,low,close,volume\n", r"has no rows"),
        ("", r"cannot be read"),
        (
            "timestamp,open,high,low,close,volume\n2024-01-09 09:01:00,1,1,1,1,1\nnot-a-time,1,1,1,1,1\n",
            r"row 2, column 'timestamp': cannot parse 'not-a-time'",
        ),
        (
            "timestamp,open,high,low,close,volume\n2024-01-09 09:01:00,1,1,1,1,1\n,1,1,1,1,1\n",
            r"row 2, column 'timestamp': empty timestamp",
        ),
        ("timestamp,open,high,low,close,volume\n1704812460,1,1,1,1,1\n,1,1,1,1,1\n", r"first at row 2"),
        (
            "timestamp,open,high,low,close,volume\n1704812460,1,1,1,1,1\n1e300,1,1,1,1,1\n",
            r"row 2.*out of range",
        ),
        ("timestamp,open,high,low,close,volume\ninf,1,1,1,1,1\n", r"row 1.*out of range"),
        ("timestamp,open,high,low,close,volume\n99999999999,1,1,1,1,1\n", r"row 1.*out of range"),
    ],
)
def test_unreadable_inputs_are_data_errors(tmp_path: Path, content: str, pattern: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=pattern) as info:
        ingest(path, timezone="America/Chicago")
    assert "bad.csv" in str(info.value)


def test_unsupported_suffix_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "bars.xlsx"
    path.write_text("x")
    with pytest.raises(DataError, match=r"unsupported file type '\.xlsx'"):
        ingest(path, timezone="UTC")
    with pytest.raises(DataError, match=r"no such file"):
        ingest(tmp_path / "absent.csv", timezone="UTC")


def test_junk_price_cells_become_missing(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    path.write_text("timestamp,open,high,low,close,volume\n2024-01-09 09:01:00,1,2,abc,1.5,7\n")
    df = ingest(path, timezone="America/Chicago")
    assert df["low"].null_count() == 1
    assert df["open"].to_list() == [1.0]
    assert df["volume"].to_list() == [7.0]


def test_integer_ns_epochs_stay_exact(tmp_path: Path) -> None:
    ns = [1_704_812_460_123_456_789, 1_704_812_520_987_654_321]  # not representable in float64
    path = tmp_path / "bars.csv"
    pl.DataFrame(
        {"timestamp": ns, "open": [1.0, 1.0], "high": 1.0, "low": 1.0, "close": 1.0, "volume": 1}
    ).write_csv(path)
    assert _epoch_ns(ingest(path, timezone="UTC")).tolist() == ns
