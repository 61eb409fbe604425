"""``mlfactory data stitch``: a continuous 1-minute series from per-contract files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlfactory.cli.common import console, emit_json, user_errors
from mlfactory.cli.options import Json, PointValue, Session, Stamp, Symbol, TickSize, Tz, make_instrument
from mlfactory.errors import ConfigError


@user_errors
def stitch(
    files: Annotated[
        list[Path], typer.Argument(help="per-contract bar files (MESU5.csv, MES_09-25.csv, ...)")
    ],
    symbol: Symbol,
    out: Annotated[Path, typer.Option("--out", "-o", help="stitched file (.parquet or .csv)")],
    roll: Annotated[str, typer.Option("--roll", help="volume | open-interest | calendar")] = "volume",
    adjust: Annotated[str, typer.Option("--adjust", help="back | ratio | none")] = "back",
    days_before_expiry: Annotated[
        int, typer.Option("--days-before-expiry", help="calendar rule: business days before the third Friday")
    ] = 8,
    tick_size: TickSize = None,
    point_value: PointValue = None,
    session: Session = None,
    tz: Tz = None,
    stamp: Stamp = None,
    json_out: Json = False,
) -> None:
    """Stitch per-contract files into one continuous series; write the rolls to OUT.rolls.json."""
    from mlfactory.data.roll_files import load_contract_files, write_sidecar
    from mlfactory.data.rolls import stitch as stitch_bars

    if out.suffix.lower() not in (".parquet", ".csv"):
        raise ConfigError(f"--out {out}: use a .parquet or .csv file name")
    instrument = make_instrument(symbol, tick_size, point_value, session)
    parts = load_contract_files(
        files,
        symbol,
        instrument,
        timezone=tz or instrument.timezone,
        stamp=stamp or "close",  # type: ignore[arg-type]
    )
    result = stitch_bars(parts, instrument, rule=roll, adjust=adjust, days_before_expiry=days_before_expiry)
    bars = result.bars.drop("row")
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".csv":
        bars.write_csv(out)
    else:
        bars.write_parquet(out)
    sidecar = write_sidecar(out, result, symbol=instrument.symbol, inputs=[str(f) for f in files])
    summary = {"out": str(out), "rolls_file": str(sidecar), "rows": bars.height} | result.to_dict()
    if json_out:
        emit_json(summary)
        return
    console.print(
        f"[bold]{out}[/]: {bars.height:,} bars from {len(result.contracts)} contracts ({roll}, {adjust})"
    )
    for r in result.rolls:
        console.print(
            f"  roll {r.effective_day}: {r.from_contract} → {r.to_contract}, gap {r.price_gap:+g} ({r.reason})"
        )
    if "warning" in summary:
        console.print(f"[yellow]warning:[/] {summary['warning']}")
    console.print(f"rolls recorded in {sidecar}")
