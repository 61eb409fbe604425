"""Vendor layouts of 1-minute bar files: detection and reading into one raw table.

Every reader returns a table with a ``timestamp`` column (text, epoch integers or datetimes, parsed
later by ``ingest``) and ``open``/``high``/``low``/``close``/``volume``, plus the format's own stamp
convention (does the timestamp mark the bar's open or its close?):

- ``ninjatrader``: NinjaTrader "Last" export, ``yyyyMMdd HHmmss;open;high;low;close;volume``, no
  header, bar close (in the exchange or in UTC time: the timezone is ``--tz``).
- ``tradestation``: TradeStation / MultiCharts, ``Date,Time,Open,High,Low,Close,Up,Down`` (volume =
  up + down) or ``...,Vol``; ``MM/dd/yyyy`` and ``HH:mm``; bar close.
- ``sierra``: Sierra Chart intraday text export, ``Date, Time, Open, High, Low, Last, Volume,
  NumberOfTrades, BidVolume, AskVolume``; ``yyyy/M/d`` and ``HH:mm:ss``; bar open (start time).
- ``databento``: Databento OHLCV-1m as CSV (``ts_event,rtype,publisher_id,instrument_id,...``,
  fixed-point integer or decimal prices) or DBN (``.dbn``, via ``databento-dbn``); ``ts_event`` is
  the bar's open, in UTC nanoseconds.
- ``generic``: any CSV, CSV.gz or Parquet with a time column and OHLCV columns found by name.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import polars as pl

from mlfactory.errors import DataError

Format = Literal["auto", "ninjatrader", "tradestation", "sierra", "databento", "generic"]
FORMATS: tuple[str, ...] = ("auto", "ninjatrader", "tradestation", "sierra", "databento", "generic")
STAMP: dict[str, Literal["open", "close"]] = {
    "ninjatrader": "close",
    "tradestation": "close",
    "sierra": "open",
    "databento": "open",
    "generic": "close",
}
TIME_FORMATS: dict[str, tuple[str, ...]] = {
    "ninjatrader": ("%Y%m%d %H%M%S",),
    "tradestation": ("%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S"),
    "sierra": ("%Y/%m/%d %H:%M:%S%.f", "%Y/%m/%d %H:%M"),
}
OHLCV = ("open", "high", "low", "close", "volume")
_NT_LINE = re.compile(r"^\s*\d{8} \d{6};")
_DBN_PRICE_SCALE = 1e-9  # Databento fixed-point prices are integers in units of 1e-9
_DBN_UNDEF_PRICE = 2**63 - 1


@dataclass(frozen=True)
class RawTable:
    """A file read in one layout: the table, the layout's name and how it was chosen."""

    frame: pl.DataFrame
    format: str
    detected: bool
    stamp: Literal["open", "close"]
    time_formats: tuple[str, ...] = ()  # the layout's own timestamp formats, tried first

    @property
    def note(self) -> str:
        how = "detected" if self.detected else "given by --format"
        return f"format {self.format} ({how}; timestamps mark the bar {self.stamp} unless --stamp says otherwise)"


def first_line(path: Path) -> str:
    """The first line of a text file (gzip-aware), for detection and messages."""
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as fh:  # type: ignore[operator]
            return fh.readline(4096).rstrip("\r\n")
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot be read: {exc}") from exc


def _is_parquet(path: Path) -> bool:
    return path.suffix.lower() in (".parquet", ".pq")


def _is_dbn(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith((".dbn", ".dbn.zst"))


def _header_names(line: str) -> list[str]:
    sep = ";" if line.count(";") > line.count(",") else ","
    return [c.strip().strip('"').strip().lower() for c in line.split(sep)]


def detect_format(path: Path) -> str | None:
    """The layout of ``path`` from its name, header and first line; ``None`` when none fits."""
    if _is_dbn(path):
        return "databento"
    if _is_parquet(path):
        try:
            names = {c.lower() for c in pl.read_parquet_schema(path)}
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise DataError(f"{path}: cannot be read as Parquet: {exc}") from exc
        return "databento" if {"ts_event", "rtype"} <= names else "generic"
    line = first_line(path)
    if _NT_LINE.match(line):
        return "ninjatrader"
    names = _header_names(line)
    if {"ts_event", "open", "close"} <= set(names):
        return "databento"
    if {"date", "time", "last"} <= set(names) and ({"numberoftrades", "bidvolume"} & set(names)):
        return "sierra"
    if names[:6] == ["date", "time", "open", "high", "low", "close"] and (
        {"up", "down"} <= set(names) or "vol" in names
    ):
        return "tradestation"
    from mlfactory.data.ingest import looks_like_bar_header

    return "generic" if looks_like_bar_header(names) else None


def read_format(path: Path, fmt: str) -> RawTable:
    """Read ``path`` in layout ``fmt`` (``auto`` detects it, or fails showing the first line)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"{path}: no such file; pass the path of a CSV, CSV.gz, Parquet or DBN file of 1-minute bars"
        )
    if fmt not in FORMATS:
        raise DataError(f"--format {fmt!r}: unknown; use one of {', '.join(FORMATS)}")
    _check_suffix(path)
    detected = fmt == "auto"
    if detected:
        if path.stat().st_size == 0:
            raise DataError(f"{path}: cannot be read: the file is empty")
        found = detect_format(path)
        if found is None:
            raise DataError(
                f"{path}: the layout is not recognised from its first line {first_line(path)[:200]!r}. "
                f"Pass --format with one of {', '.join(FORMATS[1:])}, or give the file a header with "
                "timestamp,open,high,low,close,volume"
            )
        fmt = found
    reader = {
        "ninjatrader": _read_ninjatrader,
        "tradestation": _read_tradestation,
        "sierra": _read_sierra,
        "databento": _read_databento,
        "generic": read_generic,
    }[fmt]
    return RawTable(reader(path), fmt, detected, STAMP[fmt], TIME_FORMATS.get(fmt, ()))


_TEXT_SUFFIXES = (".csv", ".csv.gz", ".txt", ".txt.gz", ".gz")


def _check_suffix(path: Path) -> None:
    name = path.name.lower()
    if not (_is_parquet(path) or _is_dbn(path) or name.endswith(_TEXT_SUFFIXES)):
        raise DataError(
            f"{path}: unsupported file type {path.suffix!r}; use .csv, .csv.gz, .txt, .parquet or .dbn"
        )


def _csv(path: Path, fmt: str, **kwargs: object) -> pl.DataFrame:
    try:
        return pl.read_csv(path, infer_schema_length=10_000, try_parse_dates=False, **kwargs)  # type: ignore[arg-type]
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot be read as a {fmt} file: {str(exc).splitlines()[0]}") from exc


def read_generic(path: Path) -> pl.DataFrame:
    """A CSV, CSV.gz or Parquet file as-is (no type coercion beyond the reader's)."""
    if _is_parquet(path):
        try:
            return pl.read_parquet(path)
        except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
            raise DataError(f"{path}: cannot be read as Parquet: {str(exc).splitlines()[0]}") from exc
    _check_suffix(path)
    return _csv(path, "CSV")


def _read_ninjatrader(path: Path) -> pl.DataFrame:
    frame = _csv(
        path,
        "NinjaTrader",
        separator=";",
        has_header=False,
        new_columns=["timestamp", *OHLCV],
        schema_overrides={"column_1": pl.String},
    )
    if frame.width != 6:
        raise DataError(
            f"{path}: a NinjaTrader export has 6 fields per line (yyyyMMdd HHmmss;open;high;low;close;volume), "
            f"this file has {frame.width}; its first line is {first_line(path)[:200]!r}"
        )
    return frame


def _stripped(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.rename({c: c.strip().strip('"').strip().lower() for c in frame.columns})


def _join_date_time(frame: pl.DataFrame) -> pl.Expr:
    return pl.concat_str(
        [pl.col("date").cast(pl.String).str.strip_chars(), pl.col("time").cast(pl.String).str.strip_chars()],
        separator=" ",
    ).alias("timestamp")


def _require(frame: pl.DataFrame, cols: tuple[str, ...], path: Path, fmt: str) -> None:
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise DataError(
            f"{path}: a {fmt} file needs the columns {', '.join(cols)}; missing {missing} "
            f"(columns are {frame.columns}). Pass --format generic if it is another layout"
        )


def _read_tradestation(path: Path) -> pl.DataFrame:
    frame = _stripped(_csv(path, "TradeStation", schema_overrides={"Date": pl.String, "Time": pl.String}))
    _require(frame, ("date", "time", "open", "high", "low", "close"), path, "TradeStation")
    if {"up", "down"} <= set(frame.columns):
        volume = pl.col("up").cast(pl.Float64, strict=False) + pl.col("down").cast(pl.Float64, strict=False)
    elif "vol" in frame.columns or "volume" in frame.columns:
        volume = pl.col("vol" if "vol" in frame.columns else "volume")
    else:
        raise DataError(
            f"{path}: a TradeStation file needs Up and Down, or Vol columns (has {frame.columns})"
        )
    return frame.select(_join_date_time(frame), "open", "high", "low", "close", volume.alias("volume"))


def _read_sierra(path: Path) -> pl.DataFrame:
    frame = _stripped(_csv(path, "Sierra Chart"))
    _require(frame, ("date", "time", "open", "high", "low", "last", "volume"), path, "Sierra Chart")
    return frame.select(
        _join_date_time(frame), "open", "high", "low", pl.col("last").alias("close"), "volume"
    )


def _read_databento(path: Path) -> pl.DataFrame:
    if _is_dbn(path):
        frame = _read_dbn(path)
    else:
        frame = _stripped(read_generic(path))
    _require(frame, ("ts_event", *OHLCV), path, "Databento OHLCV")
    _one_instrument(frame, path)
    prices = [
        pl.when(pl.col(c) == _DBN_UNDEF_PRICE)
        .then(float("nan"))
        .otherwise(pl.col(c) * _DBN_PRICE_SCALE)
        .alias(c)
        if frame.schema[c].is_integer()
        else pl.col(c)
        for c in OHLCV[:4]
    ]
    return frame.select(pl.col("ts_event").alias("timestamp"), *prices, "volume")


def _one_instrument(frame: pl.DataFrame, path: Path) -> None:
    key = (
        "symbol"
        if "symbol" in frame.columns
        else "instrument_id"
        if "instrument_id" in frame.columns
        else None
    )
    if key is None:
        return
    ids = frame[key].unique(maintain_order=True)
    if ids.len() > 1:
        raise DataError(
            f"{path}: the file holds {ids.len()} contracts ({key} {', '.join(map(str, ids.head(5).to_list()))}); "
            "a 1-minute series is one contract. Split it by contract and build a continuous series with "
            "`mlfactory data stitch`"
        )


def _read_dbn(path: Path) -> pl.DataFrame:
    import databento_dbn as dbn

    try:
        data = path.read_bytes()
        if path.name.lower().endswith(".zst"):
            raise DataError(
                f"{path}: zstd-compressed DBN is not read directly; decompress it (zstd -d) first"
            )
        decoder = dbn.DBNDecoder()
        decoder.write(data)
        records = decoder.decode()
    except (dbn.DBNError, OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot be read as a Databento DBN file: {exc}") from exc
    if not records or not isinstance(records[0], dbn.Metadata):
        raise DataError(f"{path}: not a DBN stream (no metadata header)")
    schema = records[0].schema
    if schema is not None and schema != dbn.Schema.OHLCV_1M:
        raise DataError(
            f"{path}: DBN schema is {schema}; mlfactory reads 1-minute bars: request ohlcv-1m from Databento"
        )
    bars = [r for r in records[1:] if isinstance(r, dbn.OHLCVMsg)]
    if not bars:
        raise DataError(f"{path}: the DBN file has no OHLCV records")
    return pl.DataFrame(
        {
            "ts_event": [r.ts_event for r in bars],
            "instrument_id": [r.instrument_id for r in bars],
            **{c: [getattr(r, c) for r in bars] for c in OHLCV},
        },
        schema_overrides={c: pl.Int64 for c in OHLCV[:4]} | {"ts_event": pl.Int64},
    )
