"""The command wrapper: which result files a command wrote, and the options it adds to a typer command."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer
from typer.testing import CliRunner

from mlfactory.tracking.command import changed_outputs, output_files, tracked


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_only_new_or_rewritten_result_files_count(tmp_path: Path) -> None:
    old = _write(tmp_path / "models" / "a_h10" / "metrics.json", "{}")
    kept = _write(tmp_path / "ensembles" / "e" / "metrics.json", "{}")
    before = output_files(tmp_path)
    _write(old, '{"x": 1}')  # rewritten (size changes)
    os.utime(old, ns=(before[old][0] + 1, before[old][0] + 1))
    new_cv = _write(tmp_path / "cv" / "summary_purged_k3_h10.json", "{}")
    new_bt = _write(tmp_path / "backtests" / "wf1" / "metrics.json", "{}")
    _write(tmp_path / "models" / "a_h10" / "routing.json", "{}")  # not a result file
    changed = changed_outputs(tmp_path, before)
    assert changed == {"model": [old], "cv": [new_cv], "backtest": [new_bt]}
    assert kept not in [p for paths in changed.values() for p in paths]


def test_tracked_adds_the_tracking_options_and_no_track_runs_the_command_alone(tmp_path: Path) -> None:
    calls = []
    (tmp_path / "manifest.json").write_text("{}")  # a run directory, so only --no-track stops recording

    @tracked("train")
    def command(run: Annotated[Path, typer.Option("--run")], horizon: int = 10) -> None:
        calls.append((run, horizon))

    names = list(inspect.signature(command).parameters)
    assert names == ["run", "horizon", "tracking_uri", "no_track"]
    app = typer.Typer()
    app.command()(command)
    missing = tmp_path / "nowhere" / "x.db"
    result = CliRunner().invoke(
        app, ["--run", str(tmp_path), "--no-track", "--tracking-uri", f"sqlite:///{missing}"]
    )
    assert result.exit_code == 0, result.output
    assert calls == [(tmp_path, 10)] and not missing.parent.exists()


def test_cli_help_does_not_import_mlflow() -> None:
    code = (
        "import sys; from typer.testing import CliRunner; from mlfactory.cli import app; "
        "r = CliRunner().invoke(app, ['train', '--help']); assert r.exit_code == 0, r.output; "
        "assert '--tracking-uri' in r.output and '--no-track' in r.output; "
        "r = CliRunner().invoke(app, ['leaderboard', '--help']); assert '--tracking-uri' in r.output; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mlflow', 'sqlalchemy', 'alembic')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
