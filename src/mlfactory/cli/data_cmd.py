"""``mlfactory data validate``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mlfactory.cli.common import console as stderr_console
from mlfactory.cli.common import emit_json, stdout_console, user_errors
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
)

data_app = typer.Typer(help="Inspect and validate raw bar files.", no_args_is_help=True)


@data_app.command("validate")
@user_errors
def validate(
    file: Annotated[Path, typer.Argument(help="bar file: CSV, CSV.gz, TXT, Parquet or Databento DBN")],
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
    config: ConfigPath = None,
    json_out: Json = False,
) -> None:
    """Validate a bar file and report rows, range, sessions, gaps and every problem class."""
    from mlfactory.pipeline import load_and_validate

    instrument = make_instrument(
        symbol,
        tick_size,
        point_value,
        session,
        data=file,
        instruments=instruments,
        commission=commission,
        slippage_ticks=slippage_ticks,
        no_costs=no_costs,
    )
    cfg = make_config(config, tz, stamp, policy, fmt)
    _, report = load_and_validate(file, instrument, cfg)
    summary = report.to_dict()
    stderr_console.print(f"[dim]{file}: {report.ingest}[/]")
    for warning in report.warnings:
        stderr_console.print(f"[yellow]warning:[/] {warning}", soft_wrap=True)
    if json_out:
        emit_json(summary)
        return
    console = stdout_console()
    console.print(
        f"[bold]{file}[/] ({instrument.symbol}): {report.rows_in:,} rows in, {report.rows_out:,} kept"
    )
    console.print(
        f"range {report.first_timestamp} → {report.last_timestamp}, {report.trading_days} trading days, "
        f"bars/session mean {report.bars_per_session['mean']:.0f} (min {report.bars_per_session['min']}, max {report.bars_per_session['max']})"
    )
    table = Table("problem", "count", "policy", "action", "first row", title="validation")
    for f in report.findings.values():
        table.add_row(
            f.problem, str(f.count), f.policy, f.action, "" if f.first_row is None else str(f.first_row)
        )
    console.print(table)
    g = report.gaps
    console.print(f"gaps: {g['count']} (largest {g['largest_minutes']:.0f} min) by kind {g['by_kind']}")
