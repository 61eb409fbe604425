"""ruff is configured in pyproject.toml and the tree stays clean (lint and format)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _ruff() -> str:
    exe = Path(sys.executable).with_name("ruff")
    if exe.is_file():
        return str(exe)
    found = shutil.which("ruff")
    if found is None:
        pytest.skip("ruff is not installed (it comes with the dev extras)")
    return found


@pytest.mark.parametrize("args", [["check"], ["format", "--check"]])
def test_ruff_is_clean(args: list[str]) -> None:
    result = subprocess.run(
        [_ruff(), *args, "src", "tests", "benchmarks"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
