"""``mlfactory demo``: the whole factory on the bundled synthetic sample (or on your own bars)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlfactory.cli.common import console, emit_json, progress, user_errors
from mlfactory.cli.options import out_dir_option


@user_errors
def demo(
    out: Annotated[Path, out_dir_option("where the demo writes its sample and run", "--out", "-o")] = Path(
        "runs/demo"
    ),
    data: Annotated[
        Path | None,
        typer.Option("--data", "-d", help="your own 1-minute bars instead of the synthetic sample"),
    ] = None,
    symbol: Annotated[str, typer.Option("--symbol", "-s", help="symbol of --data")] = "MES",
    quick: Annotated[
        bool, typer.Option("--quick", help="small sample and tiny models, for smoke tests")
    ] = False,
    full: Annotated[
        bool,
        typer.Option(
            "--full", help="the full-size demo: 90k bars, catboost + tcn + patchtst ensemble (minutes)"
        ),
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON summary on stdout")] = False,
) -> None:
    """Run the factory end to end (about a minute; --full for the larger one) and print the report's path."""
    from mlfactory.demo import run_demo
    from mlfactory.errors import ConfigError

    if quick and full:
        raise ConfigError("demo: --quick and --full exclude each other; give one of them")
    summary = run_demo(out, data, symbol, quick=quick, full=full, progress=progress)
    if json_out:
        emit_json(summary)
        return
    console.print(
        f"[bold green]demo finished[/] in {summary['seconds']:.0f} s — report: [bold]{summary['report']}[/]"
    )
    console.print(f"data: {summary['data']} → {summary['rows']:,} bars; run directory {summary['run']}")
    for m in summary["models"]:
        console.print(
            f"{m['model']:>18}: test log loss {m['test_log_loss']:.4f} (prior {m['prior_log_loss']:.4f}), "
            f"Sharpe {m['test_sharpe_interval']}, deflated Sharpe {_dsr(m['deflated_sharpe'])}, "
            f"P&L ${m['test_pnl_currency']:,.0f} after costs"
        )
    print(summary["report"])


def _dsr(value: float | None) -> str:
    """The deflated Sharpe; n/a for a run's first trial (nothing to deflate against) or a flat series."""
    return "n/a" if value is None else f"{value:.2f}"
