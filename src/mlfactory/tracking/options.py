"""The typer options of tracking, shared by every command that records (``tracked`` adds them)."""

from __future__ import annotations

from typing import Annotated

import typer

TrackingUri = Annotated[
    str | None,
    typer.Option(
        "--tracking-uri",
        help="MLflow store to record to: sqlite:///PATH.db or http://HOST:PORT "
        "(default: $MLFLOW_TRACKING_URI, else sqlite:///<parent of RUN>/mlruns.db)",
        rich_help_panel="Tracking",
    ),
]
NoTrack = Annotated[
    bool,
    typer.Option("--no-track", help="do not record this command to MLflow", rich_help_panel="Tracking"),
]
StoreUri = Annotated[
    str | None,
    typer.Option(
        "--tracking-uri",
        help="read an MLflow tracking store (sqlite:///PATH.db or http://HOST:PORT) instead of run directories",
    ),
]
