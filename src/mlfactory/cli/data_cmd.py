"""``mlfactory data validate``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mlfactory.cli.common import emit_json, stdout_console, user_errors
from mlfactory.cli.options import (
    ConfigPath,
    Json,
    PointValue,
    Policies,
    Session,
    Stamp,
    TickSize,
    Tz,
    make_config,
    make_instrument,
)

data_app = typer.Typer(help="Inspect and validate raw bar files.", no_args_is_help=True)


@data_app.command("validate")
@user_errors
def validate(
    file: Annotated[Path, typer.Argument(help="CSV, CSV.gz or Parquet file of 1-minute bars")],
    symbol: Annotated[str, typer.Option("--symbol", "-s", help="contract symbol")] = "MES",
    tick_size: TickSize = None,
    point_value: PointValue = None,
    session: Session = None,
    tz: Tz = None,
    stamp: Stamp = None,
    policy: Policies = None,
    config: ConfigPath = None,
    json_out: Json = False,
) -> None:
    """Validate a bar file and report rows, range, sessions, gaps and every problem class."""
    from mlfactory.pipeline import load_and_validate

    instrument = make_instrument(symbol, tick_size, point_value, session)
    cfg = make_config(config, tz, stamp, policy)
    _, report = load_and_validate(file, instrument, cfg)
    summary = report.to_dict()
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
