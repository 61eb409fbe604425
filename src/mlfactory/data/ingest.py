"""Read raw 1-minute bars (generic CSV/Parquet or a vendor layout, see ``formats``) into the canonical layout.

Canonical layout: ``timestamp`` (Datetime ns, UTC, the bar's CLOSE), ``open``, ``high``, ``low``,
``close``, ``volume`` (Float64) and ``row`` (1-based data row in the source file, for messages).
Columns are found by name, case-insensitively, with common variants. Naive timestamps are read in
a stated timezone (the instrument's exchange timezone unless overridden) and converted to UTC.
Inputs that stamp the bar's open are shifted by one bar (``stamp="open"``; each vendor layout has its
own default). Every error names the file and the source row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Literal

import polars as pl

from mlfactory.data.formats import RawTable, read_format, read_generic
from mlfactory.errors import DataError

BAR_MINUTES = 1
TIME_CANDIDATES = (
    "timestamp",
    "datetime",
    "date_time",
    "time_stamp",
    "ts",
    "dt",
    "time",
    "date",
    "gmt time",
    "unix",
)
FIELD_CANDIDATES: dict[str, tuple[str, ...]] = {
    "open": ("open", "o", "open_price", "openprice", "first"),
    "high": ("high", "h", "high_price", "highprice", "max"),
    "low": ("low", "l", "low_price", "lowprice", "min"),
    "close": ("close", "c", "close_price", "closeprice", "last", "price"),
    "volume": ("volume", "v", "vol", "qty", "quantity", "size", "total_volume"),
}


def _norm(name: str) -> str:
    return name.strip().lower().replace("<", "").replace(">", "").replace("-", "_")


def read_raw(path: Path) -> pl.DataFrame:
    """Read a generic CSV, CSV.gz or Parquet file as-is (no type coercion beyond the reader's)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"{path}: no such file; pass the path of a CSV, CSV.gz or Parquet file of 1-minute bars"
        )
    return read_generic(path)


def looks_like_bar_header(names: list[str]) -> bool:
    """True when a header line names a time column or a price column (a generic bar file)."""
    normed = {_norm(n) for n in names}
    known = set(TIME_CANDIDATES) | {c for cands in FIELD_CANDIDATES.values() for c in cands[:1]}
    return bool(normed & known)


def _find_columns(df: pl.DataFrame, path: Path) -> tuple[list[str], dict[str, str]]:
    by_norm: dict[str, str] = {}
    for c in df.columns:
        by_norm.setdefault(_norm(c), c)
    fields: dict[str, str] = {}
    for field, cands in FIELD_CANDIDATES.items():
        hit = next((by_norm[c] for c in cands if c in by_norm), None)
        if hit is None:
            raise DataError(
                f"{path}: no {field!r} column found (looked for {', '.join(cands)}; columns are {df.columns}). "
                "Rename the column or convert the file to timestamp/open/high/low/close/volume"
            )
        fields[field] = hit
    if "date" in by_norm and "time" in by_norm and by_norm["date"] != by_norm["time"]:
        return [by_norm["date"], by_norm["time"]], fields
    for cand in TIME_CANDIDATES:
        if cand in by_norm:
            return [by_norm[cand]], fields
    raise DataError(
        f"{path}: no time column found (looked for {', '.join(TIME_CANDIDATES)} or date+time; columns are {df.columns})"
    )


_UNIT_FACTOR = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
# Bars from before 1971 or after 2262 (the end of int64 nanoseconds) are wrong units or wrapped dates.
_MIN_NS = 31_536_000 * 1_000_000_000
_MAX_NS = 9_223_372_036_854_775_807
_MAX_EPOCH_NS = 9.2e18
_TEXT_FORMATS = (
    None,
    "%Y%m%d %H%M%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%Y/%m/%d %H:%M:%S%.f",
    "%Y/%m/%d %H:%M",
    "%d.%m.%Y %H:%M:%S.%3f",
    "%d.%m.%Y %H:%M:%S",
)


def _epoch_units(values: pl.Series) -> pl.Series:
    """Per value: the epoch unit its magnitude implies (s, ms, us or ns)."""
    return pl.DataFrame({"a": values.abs()}).select(
        pl.when(pl.col("a") > 1e17)
        .then(pl.lit("ns"))
        .when(pl.col("a") > 1e14)
        .then(pl.lit("us"))
        .when(pl.col("a") > 1e11)
        .then(pl.lit("ms"))
        .otherwise(pl.lit("s"))
        .alias("unit")
    )["unit"]


def _parse_epochs(series: pl.Series, col: str, path: Path) -> pl.Series:
    if series.null_count():
        raise DataError(
            f"{path}: time column {col!r} has empty values (first at row {_first_null_row(series)})"
        )
    as_float = series.cast(pl.Float64)
    _check_epoch_range(as_float, col, path)
    units = _epoch_units(as_float)
    mixed = units != units[0]
    if mixed.any():
        row = int(mixed.arg_max() or 0) + 1
        raise DataError(
            f"{path}: row {row}, column {col!r}: epoch value {series[row - 1]} is in {units[row - 1]} but row 1 "
            f"({series[0]}) is in {units[0]}; the file mixes epoch units. Convert every time to one unit"
        )
    factor = _UNIT_FACTOR[units[0]]
    _check_epoch_range(as_float * factor, col, path)
    if series.dtype.is_integer():  # stays exact: a Float64 detour would round nanoseconds
        return (series.cast(pl.Int64) * factor).cast(pl.Datetime("ns", "UTC"))
    return (as_float * factor).round(0).cast(pl.Int64).cast(pl.Datetime("ns", "UTC"))


def _parse_text(series: pl.Series, col: str, path: Path, first: tuple[str, ...] = ()) -> pl.Series:
    text = series.cast(pl.String).str.strip_chars()
    for fmt in (*first, *_TEXT_FORMATS):
        try:  # microseconds first: nanoseconds would wrap dates after 2262 silently
            return text.str.to_datetime(format=fmt, time_unit="us", strict=True)
        except (pl.exceptions.PolarsError, ValueError):
            continue
    try:
        unparsed = text.str.to_datetime(time_unit="us", strict=False).is_null() & text.is_not_null()
    except pl.exceptions.PolarsError:  # no format fits the first value, from which polars infers it
        unparsed = text.is_not_null()
    row = int(unparsed.arg_max() or 0) + 1
    raise DataError(
        f"{path}: row {row}, column {col!r}: cannot parse {text[row - 1]!r} as a timestamp; "
        "use ISO 8601 (2025-06-12 04:01:00), epoch seconds/ms/ns, or separate date and time columns"
    )


def _parse_time(df: pl.DataFrame, cols: list[str], path: Path, formats: tuple[str, ...] = ()) -> pl.Series:
    if len(cols) == 2:
        s = pl.concat_str([pl.col(cols[0]).cast(pl.String), pl.col(cols[1]).cast(pl.String)], separator=" ")
        series = df.select(s.alias("t"))["t"]
    else:
        series = df[cols[0]]
    dtype = series.dtype
    if dtype.is_nested() or dtype == pl.Object:
        raise DataError(
            f"{path}: row 1, column {cols[0]!r}: holds {dtype} values; a time column holds one timestamp per row"
        )
    if isinstance(dtype, pl.Datetime):
        parsed = series
    elif dtype.is_integer() or dtype.is_float():
        parsed = _parse_epochs(series, cols[0], path)
    elif dtype == pl.Date:
        raise DataError(f"{path}: time column {cols[0]!r} holds dates only; 1-minute bars need a time of day")
    else:
        parsed = _parse_text(series, "+".join(cols), path, formats)
    _check_date_range(parsed, "+".join(cols), path)
    return parsed.dt.cast_time_unit("ns")


def _check_date_range(ts: pl.Series, col: str, path: Path) -> None:
    """Dates before 1971 or past 2262 are wrong epoch units or wrapped dates: name the first such row."""
    us = ts.dt.cast_time_unit("us").dt.epoch("us")
    bad = (us < _MIN_NS // 1_000) | (us > _MAX_NS // 1_000)
    if bad.any():
        row = int(bad.arg_max() or 0) + 1
        raise DataError(
            f"{path}: row {row}, column {col!r}: timestamp {ts[row - 1]} is out of range (bars must fall "
            "between 1971 and 2262); check the date, or the epoch unit of the column"
        )


def _check_epoch_range(ns: pl.Series, col: str, path: Path) -> None:
    bad = ~ns.is_finite() | (ns.abs() > _MAX_EPOCH_NS)
    if bad.any():
        row = int(bad.arg_max() or 0) + 1
        raise DataError(
            f"{path}: row {row}, column {col!r}: epoch value out of range (inf, NaN or past year 2262); "
            "use epoch seconds/ms/ns since 1970 or ISO 8601 strings"
        )


def _first_null_row(s: pl.Series) -> int:
    idx = s.is_null().arg_max()
    return int(idx or 0) + 1


def localize(ts: pl.Series, tz: str, path: Path) -> pl.Series:
    """Interpret naive timestamps in ``tz`` (DST-aware; repeated fall-back hours resolved by order) → UTC."""
    if isinstance(ts.dtype, pl.Datetime) and ts.dtype.time_zone is not None:
        return ts.dt.convert_time_zone("UTC")
    frame = pl.DataFrame({"t": ts})
    # In the repeated hour after a fall-back change, local times step backwards: take the later offset there.
    later = pl.col("t") <= pl.col("t").cum_max().shift(1)
    try:
        out = frame.select(
            pl.col("t")
            .dt.replace_time_zone(
                tz,
                ambiguous=pl.when(later).then(pl.lit("latest")).otherwise(pl.lit("earliest")),
                non_existent="null",
            )
            .dt.convert_time_zone("UTC")
        )["t"]
    except Exception as exc:
        raise DataError(
            f"{path}: timezone {tz!r} cannot be applied to the naive timestamps: {exc}; pass --tz with an IANA name such as America/Chicago or UTC"
        ) from exc
    if out.null_count() > ts.null_count():
        row = _first_null_row(out)
        raise DataError(
            f"{path}: row {row}: local time {ts[row - 1]} does not exist in {tz} (spring-forward DST gap); "
            "the file is probably not in that timezone — pass --tz"
        )
    return out


@dataclass(frozen=True)
class IngestInfo:
    """How a file was read: its layout, whether that was detected, the stamp and timezone applied."""

    format: str
    detected: bool
    stamp: Literal["open", "close"]
    timezone: str

    def describe(self) -> str:
        how = "detected" if self.detected else "from --format"
        return f"read as {self.format} ({how}); timestamps taken as bar {self.stamp} times in {self.timezone}"


def ingest(
    path: Path,
    *,
    timezone: str,
    stamp: Literal["open", "close"] | None = "close",
    fmt: str = "generic",
) -> pl.DataFrame:
    """Read ``path`` into the canonical layout (unvalidated: validation is a separate step)."""
    return ingest_file(path, timezone=timezone, stamp=stamp, fmt=fmt)[0]


def ingest_file(
    path: Path,
    *,
    timezone: str,
    stamp: Literal["open", "close"] | None = None,
    fmt: str = "auto",
) -> tuple[pl.DataFrame, IngestInfo]:
    """Read ``path`` in layout ``fmt``; ``stamp=None`` takes the layout's own stamp convention."""
    path = Path(path)
    table: RawTable = read_format(path, fmt)
    raw = table.frame
    if raw.height == 0:
        raise DataError(f"{path}: the file has no rows")
    time_cols, fields = _find_columns(raw, path)
    ts = _parse_time(raw, time_cols, path, table.time_formats)
    if ts.null_count():
        raise DataError(
            f"{path}: row {_first_null_row(ts)}, column {'+'.join(time_cols)!r}: empty timestamp; "
            "every row needs a time (remove the row or fill in its time)"
        )
    ts = localize(ts, timezone, path)
    stamp = stamp or table.stamp
    if stamp == "open":
        ts = ts + timedelta(minutes=BAR_MINUTES)
    elif stamp != "close":
        raise DataError(f"--stamp must be 'open' or 'close', got {stamp!r}")
    cols = {field: _price_column(raw[src], src, path) for field, src in fields.items()}
    frame = pl.DataFrame(
        {
            "timestamp": ts.dt.cast_time_unit("ns"),
            **cols,
            "row": pl.int_range(1, raw.height + 1, dtype=pl.Int64, eager=True),
        }
    )
    return frame, IngestInfo(table.format, table.detected, stamp, timezone)


def _price_column(s: pl.Series, name: str, path: Path) -> pl.Series:
    """A numeric column as Float64; text cells that are not numbers become missing (reported by validation)."""
    if s.dtype.is_nested() or s.dtype == pl.Object:
        first = s.drop_nulls().head(1).to_list()
        raise DataError(
            f"{path}: row 1, column {name!r}: holds {s.dtype} values (e.g. {first[0] if first else None!r}); "
            "each cell must be one number. Flatten the column before reading"
        )
    if isinstance(s.dtype, pl.Datetime | pl.Date | pl.Duration | pl.Time):
        raise DataError(f"{path}: row 1, column {name!r}: holds {s.dtype} values, not numbers")
    if not (s.dtype.is_numeric() or s.dtype == pl.Null):
        s = s.cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)
    return s.cast(pl.Float64)
