"""``mlfactory models``: every registered model, read from the registry's metadata table."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from mlfactory.cli.common import emit_json, stdout_console, user_errors
from mlfactory.models.registry import model_table


@user_errors
def models(json_out: Annotated[bool, typer.Option("--json", help="print JSON on stdout")] = False) -> None:
    """List every registered model: name, family, input, timeframe, MTF strategy, feature set."""
    rows = model_table()  # no framework is imported to list the models
    if json_out:
        emit_json({"count": len(rows), "models": rows})
        return
    table = Table(
        "name",
        "family",
        "input",
        "timeframe",
        "mtf strategy",
        "feature set",
        title=f"{len(rows)} registered models",
    )
    for r in rows:
        table.add_row(r["name"], r["family"], r["input"], r["timeframe"], r["mtf_strategy"], r["feature_set"])
    stdout_console().print(table)
