"""The executor options, one vocabulary for every command that runs jobs (cv, train-ensemble, grid, tuning).

``--executor inprocess|processes|ray``, ``--workers N`` and ``--ray-address ADDR`` (``auto``, a
``ray://HOST:10001`` client address or a GCS ``HOST:6379``; without it ``ray`` starts a local
instance with N CPUs and stops it when the command ends). Pass the values to
``mlfactory.runtime.make_executor(executor, workers, ray_address=ray_address)``.
"""

from __future__ import annotations

from typing import Annotated

import typer

ExecutorKind = Annotated[
    str,
    typer.Option(
        "--executor",
        help="where jobs run: inprocess (one after another) | processes (local pool) | ray (local or cluster)",
    ),
]
Workers = Annotated[
    int, typer.Option("--workers", min=1, help="worker processes (processes) or CPUs of a local Ray instance")
]
RayAddress = Annotated[
    str | None,
    typer.Option(
        "--ray-address",
        help="join an existing Ray cluster: auto | ray://HOST:10001 | HOST:6379 (default: start a local one)",
    ),
]
