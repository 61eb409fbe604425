"""`mlfactory report` and `mlfactory leaderboard` through typer (registered here as app.py will)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import typer
from typer.testing import CliRunner

from mlfactory.cli.report_cmd import leaderboard, report

app = typer.Typer()
app.command("report")(report)
app.command("leaderboard")(leaderboard)
RUNNER = CliRunner()


def test_report_prints_the_path_and_writes_the_file(run_copy: Callable[[str], Path]) -> None:
    run = run_copy("run")
    result = RUNNER.invoke(app, ["report", str(run)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(run / "report.html")
    assert (run / "report.html").stat().st_size > 1_000_000  # plotly.js is inside
    assert "15 sections" in result.stderr


def test_report_json_lists_sections(run_copy: Callable[[str], Path]) -> None:
    run = run_copy("run")
    (run / "models").rename(run / "models_hidden")
    result = RUNNER.invoke(app, ["report", str(run), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["report"] == str(run / "report.html")
    available = {s["id"]: s["available"] for s in out["sections"]}
    assert available["metrics"] is True and available["importance"] is False  # only the ensemble is left


def test_report_on_a_non_run_is_a_clear_error(tmp_path: Path) -> None:
    result = RUNNER.invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2 and result.stdout == ""
    assert "not a run directory (no manifest.json)" in result.stderr and "Traceback" not in result.output


def test_leaderboard_json_and_table(run_copy: Callable[[str], Path], tmp_path: Path) -> None:
    run_copy("runs/a")
    result = RUNNER.invoke(app, ["leaderboard", str(tmp_path / "runs"), "--metric", "sharpe", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["metric"] == "sharpe" and out["direction"] == "higher" and len(out["rows"]) == 4
    result = RUNNER.invoke(app, ["leaderboard", str(tmp_path / "runs"), "--split", "val"])
    assert result.exit_code == 0  # the table is a result: stdout (`| grep` works)
    assert "by log_loss on val (lower is better)" in result.stdout and "stack_h6" in result.stdout


def test_leaderboard_unknown_metric(run_copy: Callable[[str], Path], tmp_path: Path) -> None:
    run_copy("runs/a")
    result = RUNNER.invoke(app, ["leaderboard", str(tmp_path / "runs"), "--metric", "auc"])
    assert result.exit_code == 2 and "unknown metric" in result.stderr
