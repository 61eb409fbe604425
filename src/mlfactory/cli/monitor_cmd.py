"""``mlfactory monitor``: drift of a data file's features and predictions against the bundle's training period."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlfactory.cli.common import console, emit_json, user_errors
from mlfactory.cli.options import Format, Instruments, Stamp, Symbol, Tz, input_options


@user_errors
def monitor(
    bundle: Annotated[Path, typer.Option("--bundle", "-b", help="ensemble directory (RUN/ensembles/<id>)")],
    data: Annotated[
        Path, typer.Option("--data", "-d", help="recent raw 1-minute bars (CSV, CSV.gz, Parquet)")
    ],
    window: Annotated[
        int, typer.Option("--window", help="recent rows compared with the training period")
    ] = 500,
    psi_warn: Annotated[float, typer.Option("--psi-warn")] = 0.1,
    psi_alert: Annotated[float, typer.Option("--psi-alert")] = 0.25,
    ks_alert: Annotated[float, typer.Option("--ks-alert")] = 0.2,
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object on stdout")] = False,
    fmt: Format = None,
    stamp: Stamp = None,
    tz: Tz = None,
    symbol: Symbol = None,
    instruments: Instruments = None,
) -> None:
    """PSI and KS per used feature and on the predicted classes: training period vs a recent window.

    The file is read with the conventions of the bundle's training data unless --format/--stamp/--tz
    say otherwise; input that contradicts the bundle is refused.
    """
    from rich.table import Table

    from mlfactory.serving.drift import DriftConfig, monitor_file

    cfg = DriftConfig(window=window, psi_warn=psi_warn, psi_alert=psi_alert, ks_alert=ks_alert)
    result = monitor_file(bundle, data, cfg, input_options(fmt, stamp, tz, symbol, instruments))
    if json_out:
        emit_json(result)
        return
    table = Table(title=f"drift vs training ({result['summary']})")
    for col in ("target", "kind", "psi", "ks", "n_recent", "status"):
        table.add_column(col)
    colour = {"ok": "green", "warn": "yellow", "alert": "red"}
    for r in sorted(result["scores"], key=lambda r: -(r["psi"] if r["psi"] == r["psi"] else -1)):
        table.add_row(r["target"], r["kind"], f"{r['psi']:.3f}", f"{r['ks']:.3f}", str(r["n_recent"]),
                      f"[{colour[r['status']]}]{r['status']}[/]")  # fmt: skip
    console.print(table)
