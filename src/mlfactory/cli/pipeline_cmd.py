"""``mlfactory pipeline run``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlfactory.cli.common import emit_json, progress, stdout_console, user_errors
from mlfactory.cli.options import (
    Commission,
    ConfigPath,
    Format,
    Instruments,
    Json,
    NoCosts,
    PointValue,
    Policies,
    Session,
    SlippageTicks,
    Stamp,
    Symbol,
    TickSize,
    Tz,
    make_config,
    make_instrument,
    out_dir_option,
)

pipeline_app = typer.Typer(
    help="Build a run directory: canonical bars, ladder, features, labels, splits.", no_args_is_help=True
)


@pipeline_app.command("run")
@user_errors
def run(
    data: Annotated[Path, typer.Option("--data", "-d", help="raw 1-minute bars (CSV, CSV.gz, Parquet)")],
    out: Annotated[Path, out_dir_option("run directory to create or update", "--out", "-o")],
    config: ConfigPath = None,
    base_timeframe: Annotated[
        str | None, typer.Option("--base-timeframe", help="decision timeframe (default 5m)")
    ] = None,
    symbol: Symbol = None,
    fmt: Format = None,
    instruments: Instruments = None,
    tick_size: TickSize = None,
    point_value: PointValue = None,
    session: Session = None,
    commission: Commission = None,
    slippage_ticks: SlippageTicks = None,
    no_costs: NoCosts = False,
    tz: Tz = None,
    stamp: Stamp = None,
    policy: Policies = None,
    force: Annotated[bool, typer.Option("--force", help="ignore cached stages")] = False,
    json_out: Json = False,
) -> None:
    """Run the data pipeline into OUT (stages already done with the same inputs are skipped)."""
    from mlfactory.pipeline import run_pipeline

    instrument = make_instrument(
        symbol,
        tick_size,
        point_value,
        session,
        data=data,
        instruments=instruments,
        commission=commission,
        slippage_ticks=slippage_ticks,
        no_costs=no_costs,
    )
    cfg = make_config(config, tz, stamp, policy, fmt, base_timeframe=base_timeframe)
    result = run_pipeline(data, instrument, cfg, out, progress=progress, force=force)
    summary = result.summary()
    if json_out:
        emit_json(summary)
    else:
        console = stdout_console()
        console.print(f"[green]run written to[/] {result.run.root}")
        console.print("bars: " + ", ".join(f"{tf} {n:,}" for tf, n in result.ladder_rows.items()))
