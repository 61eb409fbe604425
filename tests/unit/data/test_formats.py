"""Vendor layouts: each one written by the test in its own layout, detected by ``auto`` and read to the
same canonical bars, with the vendor's stamp convention (bar open or bar close) applied."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pytest

from mlfactory.data.formats import FORMATS, detect_format
from mlfactory.data.ingest import ingest_file
from mlfactory.errors import DataError

CHICAGO = ZoneInfo("America/Chicago")
# Five bars closing Tue 2024-01-09 09:01..09:05 Chicago = 15:01..15:05 UTC; they open a minute earlier.
CLOSES_LOCAL = [datetime(2024, 1, 9, 9, 1) + timedelta(minutes=i) for i in range(5)]
OPENS_LOCAL = [t - timedelta(minutes=1) for t in CLOSES_LOCAL]
CLOSES_UTC_NS = [int(t.replace(tzinfo=CHICAGO).timestamp()) * 10**9 for t in CLOSES_LOCAL]
OPEN = [4800.0, 4801.25, 4802.0, 4801.5, 4800.25]
HIGH = [4801.5, 4802.5, 4802.75, 4802.0, 4801.0]
LOW = [4799.5, 4800.5, 4801.0, 4800.0, 4799.75]
CLOSE = [4801.25, 4802.0, 4801.5, 4800.25, 4800.5]
VOLUME = [10, 20, 30, 40, 50]


def _bars():
    return zip(CLOSES_LOCAL, OPENS_LOCAL, OPEN, HIGH, LOW, CLOSE, VOLUME, strict=True)


def _assert_bars(df: pl.DataFrame) -> None:
    assert df["timestamp"].dt.epoch("ns").to_list() == CLOSES_UTC_NS
    assert df["open"].to_list() == OPEN
    assert df["high"].to_list() == HIGH
    assert df["low"].to_list() == LOW
    assert df["close"].to_list() == CLOSE
    assert df["volume"].to_list() == [float(v) for v in VOLUME]
    assert df["row"].to_list() == [1, 2, 3, 4, 5]


def write_ninjatrader(tmp_path: Path, utc: bool = False) -> Path:
    lines = []
    for close_t, _, o, h, lo, c, v in _bars():
        t = close_t.replace(tzinfo=CHICAGO).astimezone(ZoneInfo("UTC")) if utc else close_t
        lines.append(f"{t:%Y%m%d %H%M%S};{o};{h};{lo};{c};{v}")
    path = tmp_path / "MES 03-24.Last.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def write_tradestation(tmp_path: Path, up_down: bool = True) -> Path:
    head = '"Date","Time","Open","High","Low","Close",' + ('"Up","Down"' if up_down else '"Vol","OI"')
    lines = [head]
    for close_t, _, o, h, lo, c, v in _bars():
        tail = f"{v - 3},3" if up_down else f"{v},123456"
        lines.append(f"{close_t:%m/%d/%Y},{close_t:%H:%M},{o},{h},{lo},{c},{tail}")
    path = tmp_path / "ES_tradestation.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def write_sierra(tmp_path: Path) -> Path:
    lines = ["Date, Time, Open, High, Low, Last, Volume, NumberOfTrades, BidVolume, AskVolume"]
    for _, open_t, o, h, lo, c, v in _bars():
        date = f"{open_t.year}/{open_t.month}/{open_t.day}"
        lines.append(f"{date}, {open_t:%H:%M:%S}, {o}, {h}, {lo}, {c}, {v}, 7, {v // 2}, {v - v // 2}")
    path = tmp_path / "ESH24.scid_BarData.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def _open_utc_ns() -> list[int]:
    return [ns - 60 * 10**9 for ns in CLOSES_UTC_NS]


def write_databento_csv(tmp_path: Path, pretty: bool = False, two_contracts: bool = False) -> Path:
    lines = ["ts_event,rtype,publisher_id,instrument_id,open,high,low,close,volume,symbol"]
    for i, (ns, (_, _, o, h, lo, c, v)) in enumerate(zip(_open_utc_ns(), _bars(), strict=True)):
        ts = datetime.fromtimestamp(ns / 1e9, ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%S.000000000Z")
        prices = [o, h, lo, c] if pretty else [round(p * 1e9) for p in (o, h, lo, c)]
        sym, iid = ("ESM4", 2) if two_contracts and i >= 3 else ("ESH4", 1)
        lines.append(f"{ts if pretty else ns},33,1,{iid},{','.join(map(str, prices))},{v},{sym}")
    path = tmp_path / "glbx-mdp3-ohlcv-1m.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def write_dbn(tmp_path: Path) -> Path:
    import databento_dbn as dbn

    meta = dbn.Metadata(
        dataset="GLBX.MDP3",
        schema=dbn.Schema.OHLCV_1M,
        start=_open_utc_ns()[0],
        stype_in=dbn.SType.RAW_SYMBOL,
        stype_out=dbn.SType.INSTRUMENT_ID,
        symbols=["ESH4"],
        partial=[],
        not_found=[],
        mappings=[],
        end=None,
        limit=None,
        ts_out=False,
        version=2,
    )
    data = meta.encode()
    for ns, (_, _, o, h, lo, c, v) in zip(_open_utc_ns(), _bars(), strict=True):
        px = [round(p * 1e9) for p in (o, h, lo, c)]
        rec = dbn.OHLCVMsg(
            rtype=0x21, publisher_id=1, instrument_id=1, ts_event=ns,
            open=px[0], high=px[1], low=px[2], close=px[3], volume=v,
        )  # fmt: skip
        data += bytes(rec)
    path = tmp_path / "glbx-mdp3-ohlcv-1m.dbn"
    path.write_bytes(data)
    return path


def write_generic_parquet(tmp_path: Path) -> Path:
    path = tmp_path / "bars.parquet"
    pl.DataFrame(
        {
            "timestamp": pl.Series(CLOSES_UTC_NS).cast(pl.Datetime("ns", "UTC")),
            "open": OPEN, "high": HIGH, "low": LOW, "close": CLOSE, "volume": VOLUME,
        }
    ).write_parquet(path)  # fmt: skip
    return path


# layout -> (writer, timezone of its naive times, the format auto must detect)
CASES = {
    "ninjatrader": (write_ninjatrader, "America/Chicago"),
    "tradestation": (write_tradestation, "America/Chicago"),
    "sierra": (write_sierra, "America/Chicago"),
    "databento": (write_databento_csv, "America/Chicago"),  # UTC epochs: the timezone is not used
    "generic": (write_generic_parquet, "America/Chicago"),
}


def test_every_vendor_format_has_a_case() -> None:
    assert set(CASES) == set(FORMATS) - {"auto"}


@pytest.mark.parametrize("fmt", list(CASES))
def test_auto_detects_each_layout_and_reads_the_same_bars(tmp_path: Path, fmt: str) -> None:
    writer, tz = CASES[fmt]
    path = writer(tmp_path)
    assert detect_format(path) == fmt
    bars, info = ingest_file(path, timezone=tz, fmt="auto")
    _assert_bars(bars)
    assert info.format == fmt and info.detected
    assert fmt in info.describe() and "detected" in info.describe()
    explicit, info = ingest_file(path, timezone=tz, fmt=fmt)
    assert explicit.equals(bars) and not info.detected


@pytest.mark.parametrize(
    ("fmt", "stamp"), [("sierra", "open"), ("databento", "open"), ("ninjatrader", "close")]
)
def test_each_vendor_stamp_convention_is_explicit_and_overridable(
    tmp_path: Path, fmt: str, stamp: str
) -> None:
    writer, tz = CASES[fmt]
    path = writer(tmp_path)
    _, info = ingest_file(path, timezone=tz)
    assert info.stamp == stamp
    other = "close" if stamp == "open" else "open"
    shifted, info = ingest_file(path, timezone=tz, stamp=other)
    assert info.stamp == other
    step = 60 * 10**9 if other == "open" else -(60 * 10**9)
    assert shifted["timestamp"].dt.epoch("ns").to_list() == [ns + step for ns in CLOSES_UTC_NS]


def test_ninjatrader_export_in_utc(tmp_path: Path) -> None:
    bars, _ = ingest_file(write_ninjatrader(tmp_path, utc=True), timezone="UTC")
    _assert_bars(bars)


def test_tradestation_vol_variant(tmp_path: Path) -> None:
    path = write_tradestation(tmp_path, up_down=False)
    assert detect_format(path) == "tradestation"
    _assert_bars(ingest_file(path, timezone="America/Chicago")[0])


def test_databento_pretty_csv_and_dbn(tmp_path: Path) -> None:
    _assert_bars(ingest_file(write_databento_csv(tmp_path, pretty=True), timezone="UTC")[0])
    dbn_path = write_dbn(tmp_path)
    assert detect_format(dbn_path) == "databento"
    bars, info = ingest_file(dbn_path, timezone="UTC")
    _assert_bars(bars)
    assert info.format == "databento" and info.stamp == "open"


def test_databento_file_with_two_contracts_points_to_stitch(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"2 contracts .*ESH4, ESM4.*mlfactory data stitch"):
        ingest_file(write_databento_csv(tmp_path, two_contracts=True), timezone="UTC")


def test_unrecognised_file_shows_its_first_line_and_the_choices(tmp_path: Path) -> None:
    path = tmp_path / "weird.csv"
    path.write_text("alpha|beta|gamma\n1|2|3\n")
    with pytest.raises(DataError) as info:
        ingest_file(path, timezone="UTC")
    msg = str(info.value)
    assert "weird.csv" in msg and "'alpha|beta|gamma'" in msg
    for fmt in FORMATS[1:]:
        assert fmt in msg


def test_wrong_explicit_format_is_a_clear_error(tmp_path: Path) -> None:
    path = write_generic_parquet(tmp_path).with_suffix(".csv")
    pl.read_parquet(tmp_path / "bars.parquet").write_csv(path)
    with pytest.raises(DataError, match=r"Sierra Chart file needs the columns"):
        ingest_file(path, timezone="UTC", fmt="sierra")
    with pytest.raises(DataError, match=r"NinjaTrader"):
        ingest_file(path, timezone="UTC", fmt="ninjatrader")
    with pytest.raises(DataError, match=r"--format 'metastock': unknown"):
        ingest_file(path, timezone="UTC", fmt="metastock")


def test_dbn_of_another_schema_is_refused(tmp_path: Path) -> None:
    import databento_dbn as dbn

    meta = dbn.Metadata(
        dataset="GLBX.MDP3", schema=dbn.Schema.OHLCV_1S, start=0, stype_in=dbn.SType.RAW_SYMBOL,
        stype_out=dbn.SType.INSTRUMENT_ID, symbols=["ESH4"], partial=[], not_found=[], mappings=[],
        end=None, limit=None, ts_out=False, version=2,
    )  # fmt: skip
    path = tmp_path / "one-second.dbn"
    path.write_bytes(meta.encode())
    with pytest.raises(DataError, match=r"ohlcv-1m"):
        ingest_file(path, timezone="UTC")
    garbage = tmp_path / "garbage.dbn"
    garbage.write_bytes(np.arange(64, dtype=np.uint8).tobytes())
    with pytest.raises(DataError, match=r"garbage\.dbn"):
        ingest_file(garbage, timezone="UTC")


def test_the_cli_lists_the_same_formats() -> None:
    from mlfactory.cli.options import FORMAT_CHOICES

    assert FORMAT_CHOICES.split("|") == list(FORMATS)
