"""``mlfactory models``: every registered model, read from the registry."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from mlfactory.cli.common import console, emit_json, user_errors
from mlfactory.models.registry import all_models, describe


@user_errors
def models(json_out: Annotated[bool, typer.Option("--json", help="print JSON on stdout")] = False) -> None:
    """List every registered model: name, family, input, timeframe, MTF strategy, feature set."""
    rows = [describe(cls) for cls in all_models().values()]
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
    console.print(table)
