"""``mlfactory features list``: every registered feature of a timeframe, read from the registry."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from mlfactory.cli.common import emit_json, stdout_console, user_errors
from mlfactory.timeframes import DEFAULT_BASE_TIMEFRAME, check_timeframe

features_app = typer.Typer(help="The feature registry.", no_args_is_help=True)


@features_app.command("list")
@user_errors
def list_features(
    timeframe: Annotated[
        str, typer.Option("--timeframe", "-t", help="timeframe of the features")
    ] = DEFAULT_BASE_TIMEFRAME,
    symbol: Annotated[
        str, typer.Option("--symbol", "-s", help="instrument (session length sets day-long windows)")
    ] = "MES",
    json_out: Annotated[bool, typer.Option("--json", help="print JSON on stdout")] = False,
) -> None:
    """List every feature: name, group, kind (raw/engineered), timeframe, warm-up bars."""
    from mlfactory.data.instruments import get_instrument
    from mlfactory.features.catalog import catalog_summary

    check_timeframe(timeframe, "--timeframe")
    summary = catalog_summary(timeframe, get_instrument(symbol))
    if json_out:
        emit_json(summary)
        return
    console = stdout_console()
    table = Table(
        "name", "group", "kind", "warm-up", "fitted", title=f"{summary['count']} features on {timeframe}"
    )
    for r in summary["features"]:
        table.add_row(r["name"], r["group"], r["kind"], str(r["warmup_bars"]), "yes" if r["fitted"] else "")
    console.print(table)
    console.print(f"by group: {summary['by_group']}")
