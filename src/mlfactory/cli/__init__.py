"""The ``mlfactory`` command (typer). Output for machines on stdout (``--json``), everything else on stderr."""

from mlfactory.cli.app import app

__all__ = ["app"]
