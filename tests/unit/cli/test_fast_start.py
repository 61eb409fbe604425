"""`mlfactory --help` and `mlfactory models` load no framework: they run in a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

FORBIDDEN = (
    "torch", "xgboost", "catboost", "lightgbm", "sklearn", "numba", "plotly",
    "mlflow", "ray", "fastapi", "scipy",
)  # fmt: skip

PROBE = """
import json, sys
from mlfactory.cli.app import app
try:
    app(args=sys.argv[1:], prog_name="mlfactory")
except SystemExit as exc:
    code = exc.code
loaded = sorted({m.split(".")[0] for m in sys.modules} & set(json.loads(sys.stdin.readline())))
sys.stderr.write("LOADED=" + json.dumps({"code": code, "loaded": loaded}) + "\\n")
"""


def _probe(*args: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        input=json.dumps(FORBIDDEN) + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    line = next(x for x in proc.stderr.splitlines() if x.startswith("LOADED="))
    return json.loads(line.removeprefix("LOADED=")) | {"stdout": proc.stdout}


@pytest.mark.parametrize("args", [("--help",), ("models",), ("models", "--json"), ("train", "--help")])
def test_no_heavy_library_is_imported(args):
    result = _probe(*args)
    assert result["code"] in (0, None)
    assert result["loaded"] == [], f"mlfactory {' '.join(args)} imported {result['loaded']}"


def test_models_table_goes_to_stdout_and_can_be_grepped():
    out = _probe("models")["stdout"]
    assert "24 registered models" in out
    assert any(line.split("│")[1].strip() == "catboost" for line in out.splitlines() if "│" in line)


def test_probe_would_see_a_heavy_import():
    # The test above cannot pass vacuously: the same check sees sklearn once evaluation is loaded.
    code = "import mlfactory.evaluation"
    proc = subprocess.run([sys.executable, "-c", code + "; import sys; print('sklearn' in sys.modules)"],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.stdout.strip() == "True"
