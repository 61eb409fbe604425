"""Contract files: per-contract files or a ``contract`` column → parts for ``rolls.stitch``; roll sidecars.

A contract comes from a ``contract`` column (one file holding several contracts) or else from the
file name (``MESU5.csv``, ``MES_09-25.txt``). Ingest keeps only the canonical columns, so the side
columns (``contract``, ``open_interest``, ``segment``) are read from the same file and joined on the
source row. The stitched file's rolls go to ``<out>.rolls.json`` next to it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl

from mlfactory.data.instruments import Instrument
from mlfactory.data.rolls import CONTRACT, OPEN_INTEREST, Contract, StitchResult, parse_contract, stitch
from mlfactory.data.segments import SEGMENT
from mlfactory.errors import DataError

_OI_NAMES = ("open_interest", "openinterest", "oi", "open interest")


def contract_parts(bars: pl.DataFrame, symbol: str, *, source: str) -> dict[Contract, pl.DataFrame]:
    """Split bars carrying a ``contract`` column into one frame per parsed contract."""
    parts: dict[Contract, pl.DataFrame] = {}
    for (value,), frame in bars.group_by(CONTRACT, maintain_order=True):
        first_year = frame["timestamp"].min().year
        c = parse_contract(str(value), symbol, first_year)
        if c is None:
            raise DataError(
                f"{source}: contract {value!r} is not a {symbol} contract code; use codes like "
                f"{symbol}U5, {symbol}Z25 or '{symbol} 09-25' in the contract column"
            )
        if c in parts:
            parts[c] = pl.concat([parts[c], frame.drop(CONTRACT)])
        else:
            parts[c] = frame.drop(CONTRACT)
    return parts


def read_side_columns(path: Path, bars: pl.DataFrame) -> pl.DataFrame:
    """Attach the file's ``contract`` and open-interest columns (if any) to ingested bars by source row.

    Ingest keeps only the canonical columns (and ``row``, the 1-based data row); this reads the
    side columns of the same file and aligns them on that row.
    """
    path = Path(path)
    is_parquet = path.suffix.lower() in (".parquet", ".pq")
    names = (
        pl.read_parquet_schema(path).keys()
        if is_parquet
        else pl.read_csv(path, n_rows=1, infer_schema_length=0).columns
    )
    wanted = {}
    for name in names:
        norm = name.strip().lower()
        if norm in (CONTRACT, SEGMENT):
            wanted[name] = norm
        elif norm in _OI_NAMES and OPEN_INTEREST not in wanted.values():
            wanted[name] = OPEN_INTEREST
    if not wanted:
        return bars
    cols = list(wanted)
    side = (
        pl.read_parquet(path, columns=cols)
        if is_parquet
        else pl.read_csv(path, columns=cols, infer_schema_length=10_000)
    )
    side = side.rename(wanted).with_row_index("row", offset=1).with_columns(pl.col("row").cast(pl.Int64))
    if CONTRACT in side.columns:
        side = side.with_columns(pl.col(CONTRACT).cast(pl.String))
    if OPEN_INTEREST in side.columns:
        side = side.with_columns(pl.col(OPEN_INTEREST).cast(pl.Float64, strict=False))
    if SEGMENT in side.columns:
        side = side.with_columns(pl.col(SEGMENT).cast(pl.Int32))
    return bars.join(side, on="row", how="left", maintain_order="left")


def stitch_contract_column(
    bars: pl.DataFrame, path: Path, instrument: Instrument, *, rule: str, adjust: str, days_before_expiry: int
) -> tuple[pl.DataFrame, StitchResult | StitchedFile | None]:
    """Ingested bars of a file whose rows carry a ``contract`` column, stitched; other files unchanged.

    A file that already carries a ``segment`` column (the output of ``data stitch``) is kept as it
    is, with the rolls of its ``.rolls.json`` sidecar.
    """
    bars = read_side_columns(path, bars)
    if SEGMENT in bars.columns:  # already stitched (``data stitch`` output): keep its segments and rolls
        return bars.drop(CONTRACT, OPEN_INTEREST, strict=False), _stitched_record(path, bars)
    if CONTRACT not in bars.columns:
        return bars.drop(OPEN_INTEREST, strict=False), None
    if bars[CONTRACT].null_count():
        row = int(bars[CONTRACT].is_null().arg_max() or 0) + 1
        raise DataError(
            f"{path}: row {row}: empty contract; every row of a file with a contract column needs one"
        )
    parts = contract_parts(bars, instrument.symbol, source=str(path))
    result = stitch(parts, instrument, rule=rule, adjust=adjust, days_before_expiry=days_before_expiry)
    return result.bars.drop(OPEN_INTEREST, strict=False), result


@dataclass
class StitchedFile:
    """The roll record of a file that ``data stitch`` already wrote (its sidecar, if present)."""

    record: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return self.record


def _stitched_record(path: Path, bars: pl.DataFrame) -> StitchedFile:
    side = sidecar_path(path)
    if side.is_file():
        return StitchedFile(json.loads(side.read_text()) | {"source": str(side)})
    seg = bars[SEGMENT].to_numpy()
    cuts = np.flatnonzero(seg[1:] != seg[:-1]) + 1
    contract = bars[CONTRACT] if CONTRACT in bars.columns else None
    rolls = [
        {
            "first_bar_after": str(bars["timestamp"][int(k)]),
            "from": None if contract is None else contract[int(k) - 1],
            "to": None if contract is None else contract[int(k)],
        }
        for k in cuts
    ]
    return StitchedFile({"source": f"{path}: segment column (no {side.name})", "rolls": rolls})


def write_sidecar(out: Path, result: StitchResult, *, symbol: str, inputs: list[str]) -> Path:
    """Write ``<out>.rolls.json`` next to the stitched file; return its path."""
    path = sidecar_path(out)
    payload = {
        "mlfactory": "rolls",
        "symbol": symbol,
        "output": str(out),
        "inputs": inputs,
    } | result.to_dict()
    path.write_text(json.dumps(payload, indent=2, sort_keys=True))
    return path


def sidecar_path(out: Path) -> Path:
    out = Path(out)
    return out.with_name(out.name + ".rolls.json")


def load_contract_files(
    paths: list[Path],
    symbol: str,
    instrument: Instrument,
    *,
    timezone: str,
    stamp: Literal["open", "close"] = "close",
) -> dict[Contract, pl.DataFrame]:
    """Ingest each file; its contract comes from a ``contract`` column or else from its file name."""
    from mlfactory.data.ingest import ingest

    parts: dict[Contract, pl.DataFrame] = {}
    for path in map(Path, paths):
        bars = read_side_columns(path, ingest(path, timezone=timezone, stamp=stamp))
        if CONTRACT in bars.columns:
            found = contract_parts(bars, symbol, source=str(path))
        else:
            c = parse_contract(path.name, symbol, bars["timestamp"].min().year)
            if c is None:
                raise DataError(
                    f"{path}: the file name names no {symbol} contract and the file has no contract column; "
                    f"name it like {symbol}U5.csv or {symbol}_09-25.csv, or add a contract column"
                )
            found = {c: bars}
        for c, frame in found.items():
            if c in parts:
                raise DataError(
                    f"{path}: contract {c.code} also comes from another file; give each contract once"
                )
            parts[c] = frame
    return parts
