"""``mlfactory monitor``: drift of a data file's features and predictions against the bundle's training period."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlfactory.cli.common import console, emit_json, user_errors
from mlfactory.cli.options import Format, Instruments, Stamp, Symbol, Tz, input_options
from mlfactory.errors import ConfigError


@user_errors
def monitor(
    bundle: Annotated[Path, typer.Option("--bundle", "-b", help="ensemble directory (RUN/ensembles/<id>)")],
    data: Annotated[
        Path, typer.Option("--data", "-d", help="recent raw 1-minute bars (CSV, CSV.gz, Parquet)")
    ],
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", help="YAML of window, bins, psi_warn, psi_alert, ks_alert (docs/configuration.md)"
        ),
    ] = None,
    window: Annotated[
        int | None,
        typer.Option("--window", help="recent rows compared with the training period; overrides --config"),
    ] = None,
    psi_warn: Annotated[float | None, typer.Option("--psi-warn", help="overrides --config")] = None,
    psi_alert: Annotated[float | None, typer.Option("--psi-alert", help="overrides --config")] = None,
    ks_alert: Annotated[float | None, typer.Option("--ks-alert", help="overrides --config")] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="directory of the result file <window-end>.json; default RUN/monitoring/<bundle-id>"
        ),
    ] = None,
    save: Annotated[
        bool, typer.Option("--save/--no-save", help="write the result file (the report reads it)")
    ] = True,
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object on stdout")] = False,
    fmt: Format = None,
    stamp: Stamp = None,
    tz: Tz = None,
    symbol: Symbol = None,
    instruments: Instruments = None,
) -> None:
    """PSI and KS per used feature and on the predicted classes: training period vs a recent window.

    The result is saved as RUN/monitoring/<bundle-id>/<window-end>.json (or under --out), where the
    Drift section of `mlfactory report RUN` finds it. The file is read with the conventions of the
    bundle's training data unless --format/--stamp/--tz say otherwise; input that contradicts the
    bundle is refused.
    """
    from rich.table import Table
    from rich.text import Text

    from mlfactory.serving.drift import load_drift_config, monitor_file
    from mlfactory.serving.drift_results import default_results_dir, write_drift_result

    if save and out is not None and out.exists() and not out.is_dir():
        raise ConfigError(
            f"--out {out}: this is a file; give a directory (the result is written as DIR/<window-end>.json)"
        )
    overrides = {"window": window, "psi_warn": psi_warn, "psi_alert": psi_alert, "ks_alert": ks_alert}
    result = monitor_file(
        bundle, data, load_drift_config(config, overrides), input_options(fmt, stamp, tz, symbol, instruments)
    )
    if save:
        result["artifact"] = str(write_drift_result(result, out or default_results_dir(bundle)))
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
    if save:
        console.print(Text(f"saved {result['artifact']}"), soft_wrap=True)
