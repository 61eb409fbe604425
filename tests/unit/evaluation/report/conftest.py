"""A complete run directory, built once per session from real computations (see report_run_builder)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from report_run_builder import build_run


@pytest.fixture(scope="session")
def built_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Read-only: tests that change the run use ``run_copy``."""
    return build_run(tmp_path_factory.mktemp("report-run"))


@pytest.fixture
def run_copy(built_run: Path, tmp_path: Path) -> Callable[[str], Path]:
    """``run_copy(name)`` → a private copy of the built run at ``tmp_path / name``."""

    def copy(name: str = "run") -> Path:
        return Path(shutil.copytree(built_run, tmp_path / name))

    return copy
