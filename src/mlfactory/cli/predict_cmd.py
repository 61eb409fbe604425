"""``mlfactory predict``: a saved ensemble bundle on new raw bars."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlfactory.cli.common import console, emit_json, user_errors


@user_errors
def predict(
    bundle: Annotated[Path, typer.Option("--bundle", "-b", help="ensemble directory (RUN/ensembles/<id>)")],
    data: Annotated[Path, typer.Option("--data", "-d", help="raw 1-minute bars (CSV, CSV.gz, Parquet)")],
    out: Annotated[Path, typer.Option("--out", "-o", help="predictions file (.parquet or .csv)")],
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON summary on stdout")] = False,
    stream: Annotated[
        bool, typer.Option("--stream", help="replay the file minute by minute through the live predictor")
    ] = False,
) -> None:
    """Predict class probabilities and argmax positions at every decision time the ensemble can build."""
    if stream:
        from mlfactory.serving.replay import stream_bundle as run
    else:
        from mlfactory.serving.inference import predict_bundle as run

    summary = run(bundle, data, out)
    if json_out:
        emit_json(summary)
        return
    console.print(
        f"{summary['predicted']:,} of {summary['decisions']:,} decisions predicted ({summary['kept']}) → {summary['out']}"
    )
