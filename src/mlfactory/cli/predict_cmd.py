"""``mlfactory predict``: a saved ensemble bundle on new raw bars."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlfactory.cli.common import console, emit_json, user_errors
from mlfactory.cli.options import Format, Instruments, Stamp, Symbol, Tz, input_options


@user_errors
def predict(
    bundle: Annotated[Path, typer.Option("--bundle", "-b", help="ensemble directory (RUN/ensembles/<id>)")],
    data: Annotated[Path, typer.Option("--data", "-d", help="raw 1-minute bars (CSV, CSV.gz, Parquet)")],
    out: Annotated[Path, typer.Option("--out", "-o", help="predictions file (.parquet or .csv)")],
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON summary on stdout")] = False,
    stream: Annotated[
        bool, typer.Option("--stream", help="replay the file minute by minute through the live predictor")
    ] = False,
    fmt: Format = None,
    stamp: Stamp = None,
    tz: Tz = None,
    symbol: Symbol = None,
    instruments: Instruments = None,
) -> None:
    """Predict class probabilities and argmax positions at every decision time the ensemble can build.

    The file is read with the conventions of the bundle's training data (layout, stamp, timezone);
    --format/--stamp/--tz describe a new file that differs. Input that contradicts the bundle (another
    symbol or instrument, bars that look stamped at their open) is refused.
    """
    if stream:
        from mlfactory.serving.replay import stream_bundle as run
    else:
        from mlfactory.serving.inference import predict_bundle as run

    summary = run(bundle, data, out, input_options(fmt, stamp, tz, symbol, instruments))
    if json_out:
        emit_json(summary)
        return
    conv = summary["conventions"]
    console.print(
        f"{summary['predicted']:,} of {summary['decisions']:,} decisions predicted ({summary['kept']}) → {summary['out']}"
        f" [dim](read as {conv['format']}, bars stamped at their {conv['stamp']}, naive times in {conv['timezone']})[/]"
    )
