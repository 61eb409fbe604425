"""Read raw 1-minute bars from CSV, CSV.gz or Parquet into the canonical layout.

Canonical layout: ``timestamp`` (Datetime ns, UTC, the bar's CLOSE), ``open``, ``high``, ``low``,
``close``, ``volume`` (Float64) and ``row`` (1-based data row in the source file, for messages).
Columns are found by name, case-insensitively, with common variants. Naive timestamps are read in
a stated timezone (the instrument's exchange timezone unless overridden) and converted to UTC.
Inputs that stamp the bar's open are shifted by one bar (``stamp="open"``).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

import polars as pl

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
    """Read a CSV, CSV.gz or Parquet file as-is (no type coercion beyond the reader's)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"{path}: no such file; pass the path of a CSV, CSV.gz or Parquet file of 1-minute bars"
        )
    suffixes = "".join(path.suffixes[-2:]).lower()
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pl.read_parquet(path)
        if suffixes.endswith((".csv", ".csv.gz", ".txt", ".txt.gz")) or path.suffix.lower() == ".gz":
            return pl.read_csv(path, infer_schema_length=10_000, try_parse_dates=False)
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot be read as {path.suffix or 'a table'}: {exc}") from exc
    raise DataError(f"{path}: unsupported file type {path.suffix!r}; use .csv, .csv.gz or .parquet")


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


def _epoch_unit(max_abs: float) -> str:
    if max_abs > 1e17:
        return "ns"
    if max_abs > 1e14:
        return "us"
    if max_abs > 1e11:
        return "ms"
    return "s"


def _parse_time(df: pl.DataFrame, cols: list[str], path: Path) -> pl.Series:
    if len(cols) == 2:
        s = pl.concat_str([pl.col(cols[0]).cast(pl.String), pl.col(cols[1]).cast(pl.String)], separator=" ")
        series = df.select(s.alias("t"))["t"]
    else:
        series = df[cols[0]]
    dtype = series.dtype
    if isinstance(dtype, pl.Datetime):
        return series.dt.cast_time_unit("ns")
    if dtype.is_integer() or dtype.is_float():
        if series.null_count():
            raise DataError(
                f"{path}: time column {cols[0]!r} has empty values (first at row {_first_null_row(series)})"
            )
        as_float = series.cast(pl.Float64)
        unit = _epoch_unit(float(as_float.filter(as_float.is_finite()).abs().max() or 0))
        factor = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}[unit]
        _check_epoch_range(as_float * factor, cols[0], path)
        if dtype.is_integer():  # stays exact: a Float64 detour would round nanoseconds
            return (series.cast(pl.Int64) * factor).cast(pl.Datetime("ns", "UTC"))
        return (as_float * factor).round(0).cast(pl.Int64).cast(pl.Datetime("ns", "UTC"))
    if dtype == pl.Date:
        raise DataError(f"{path}: time column {cols[0]!r} holds dates only; 1-minute bars need a time of day")
    text = series.cast(pl.String).str.strip_chars()
    parsed = None
    errors = []
    for fmt in (
        None,
        "%Y%m%d %H%M%S",
        "%m/%d/%Y %H:%M",
        "%m/%d/%Y %H:%M:%S",
        "%d.%m.%Y %H:%M:%S.%3f",
        "%d.%m.%Y %H:%M:%S",
    ):
        try:
            parsed = text.str.to_datetime(format=fmt, time_unit="ns", strict=True)
            break
        except (pl.exceptions.PolarsError, ValueError) as exc:
            errors.append(str(exc).splitlines()[0])
    if parsed is None:
        try:
            unparsed = text.str.to_datetime(time_unit="ns", strict=False).is_null() & text.is_not_null()
        except pl.exceptions.PolarsError:  # no format fits the first value, from which polars infers it
            unparsed = text.is_not_null()
        row = int(unparsed.arg_max() or 0) + 1
        raise DataError(
            f"{path}: row {row}, column {cols[0]!r}: cannot parse {text[row - 1]!r} as a timestamp; "
            "use ISO 8601 (2025-06-12 04:01:00), epoch seconds/ms/ns, or separate date and time columns"
        )
    return parsed


_MAX_EPOCH_NS = 9.2e18  # int64 nanoseconds reach 2262-04-11


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


def ingest(path: Path, *, timezone: str, stamp: Literal["open", "close"] = "close") -> pl.DataFrame:
    """Read ``path`` into the canonical layout (unvalidated: validation is a separate step)."""
    path = Path(path)
    raw = read_raw(path)
    if raw.height == 0:
        raise DataError(f"{path}: the file has no rows")
    time_cols, fields = _find_columns(raw, path)
    ts = _parse_time(raw, time_cols, path)
    if ts.null_count():
        raise DataError(
            f"{path}: row {_first_null_row(ts)}, column {'+'.join(time_cols)!r}: empty timestamp; "
            "every row needs a time (remove the row or fill in its time)"
        )
    ts = localize(ts, timezone, path)
    if stamp == "open":
        ts = ts + timedelta(minutes=BAR_MINUTES)
    elif stamp != "close":
        raise DataError(f"--stamp must be 'open' or 'close', got {stamp!r}")
    cols = {}
    for field, src in fields.items():
        s = raw[src]
        if not (s.dtype.is_numeric() or s.dtype == pl.Null):
            s = s.cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)
        cols[field] = s.cast(pl.Float64)
    return pl.DataFrame(
        {
            "timestamp": ts.dt.cast_time_unit("ns"),
            **cols,
            "row": pl.int_range(1, raw.height + 1, dtype=pl.Int64, eager=True),
        }
    )
