"""Where the shipped configs live."""

from __future__ import annotations

import os
from pathlib import Path

from mlfactory.errors import ConfigError


def config_dir() -> Path:
    """The ``configs/`` directory: ``$MLFACTORY_CONFIG_DIR`` or the repository's ``configs/``."""
    env = os.environ.get("MLFACTORY_CONFIG_DIR")
    if env:
        path = Path(env)
    else:
        path = Path(__file__).resolve().parents[2] / "configs"
    if not (path / "instruments.yaml").is_file():
        raise ConfigError(
            f"config directory {path} has no instruments.yaml; install mlfactory from its repository "
            "with `pip install -e .` or point MLFACTORY_CONFIG_DIR at a copy of configs/"
        )
    return path
