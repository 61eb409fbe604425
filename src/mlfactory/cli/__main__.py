"""``python -m mlfactory.cli``: the same entry point as the ``mlfactory`` console script."""

from mlfactory.cli.app import app

app(prog_name="mlfactory")
