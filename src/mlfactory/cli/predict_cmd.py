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
) -> None:
    """Predict class probabilities and argmax positions at every decision time the ensemble can build."""
    from mlfactory.serving.inference import predict_bundle

    summary = predict_bundle(bundle, data, out)
    if json_out:
        emit_json(summary)
        return
    console.print(
        f"{summary['predicted']:,} of {summary['decisions']:,} decisions predicted ({summary['kept']}) → {summary['out']}"
    )
