"""``mlfactory report RUN`` and ``mlfactory leaderboard RUNS_DIR``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from mlfactory.cli.common import console, emit_json, stdout_console, user_errors
from mlfactory.tracking.options import StoreUri

# The leaderboard's metric names, for the help text without importing the evaluation package;
# a test keeps them equal to mlfactory.evaluation.report.METRIC_DIRECTIONS / DEFAULT_METRIC.
LEADERBOARD_METRICS = (
    "log_loss", "brier", "accuracy", "balanced_accuracy", "macro_f1", "sharpe", "sortino", "calmar",
    "annualised_return", "total_return", "total_pnl_currency", "win_rate", "profit_factor",
    "average_trade_currency", "max_drawdown", "max_drawdown_currency", "max_drawdown_duration_days",
    "deflated_sharpe", "pbo",
)  # fmt: skip
DEFAULT_METRIC = "log_loss"
Json = Annotated[bool, typer.Option("--json", help="print one JSON object on stdout")]


@user_errors
def report(
    run: Annotated[Path, typer.Argument(help="run directory (holds manifest.json)")],
    json_out: Json = False,
) -> None:
    """Write RUN/report.html (one self-contained file, no network needed) and print its path."""
    from mlfactory.evaluation.report import write_report

    result = write_report(run)
    if json_out:
        emit_json(result.summary())
        return
    missing = [s.title for s in result.sections if not s.available]
    note = f"; not available in this run: {', '.join(missing)}" if missing else ""
    console.print(Text(f"report: {len(result.sections)} sections{note}"))
    typer.echo(str(result.path))


@user_errors
def leaderboard(
    runs_dir: Annotated[
        Path | None, typer.Argument(help="directory holding run directories (searched recursively)")
    ] = None,
    metric: Annotated[
        str,
        typer.Option(
            "--metric", "-m", help=f"sort key, one of: {', '.join(LEADERBOARD_METRICS)} (direction is known)"
        ),
    ] = DEFAULT_METRIC,
    split: Annotated[str, typer.Option("--split", help="test or val")] = "test",
    tracking_uri: StoreUri = None,
    json_out: Json = False,
) -> None:
    """One table of every model and ensemble across the runs under RUNS_DIR (or in an MLflow store), best first."""
    from mlfactory.evaluation.report.html import fmt
    from mlfactory.evaluation.report.leaderboard import group_key
    from mlfactory.tracking.leaderboard import build_any_leaderboard

    board = build_any_leaderboard(runs_dir, tracking_uri, metric, split)
    if json_out:
        emit_json(board.to_json())
        return
    if not board.rows:
        console.print(
            Text(
                f"{len(board.runs)} run(s) under {runs_dir or tracking_uri}, but none has a models/ or ensembles/ metrics.json"
            )
        )
        return
    table = Table(
        "#",
        *board.columns,
        title=f"{len(board.rows)} models/ensembles in {len(board.runs)} run(s), by {metric} on {split} "
        f"({board.direction} is better)",
    )
    for rank, row in enumerate(board.rows, start=1):
        if rank > 1 and group_key(row) != group_key(board.rows[rank - 2]):
            table.add_section()  # a new (symbol, timeframe, horizon) group
        table.add_row(str(rank), *(Text(fmt(row.get(c))) for c in board.columns))
    stdout_console().print(table)
