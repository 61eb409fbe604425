"""Leaderboard across runs: metric directions, NaN last, discovery of runs, strict JSON, errors."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from mlfactory.errors import ArtifactError, ConfigError
from mlfactory.evaluation.report import METRIC_DIRECTIONS, build_leaderboard, find_runs
from mlfactory.evaluation.report.leaderboard import group_key, metric_value, sort_rows
from mlfactory.evaluation.sharpe_intervals import format_sharpe


@pytest.fixture
def runs_dir(run_copy: Callable[[str], Path], tmp_path: Path) -> Path:
    """Two runs: ``a`` (the built run) and ``nested/b`` (the same without logistic_h6), plus a non-run folder."""
    a = run_copy("runs/a")
    b = Path(shutil.copytree(a, tmp_path / "runs" / "nested" / "b"))
    shutil.rmtree(b / "models" / "logistic_h6")
    (tmp_path / "runs" / "notes").mkdir()
    return tmp_path / "runs"


def _stored(run: Path, kind: str, name: str) -> dict:
    return json.loads((run / f"{kind}s" / name / "metrics.json").read_text())


def test_log_loss_ascending_across_runs(runs_dir: Path) -> None:
    board = build_leaderboard(runs_dir, "log_loss", "test")
    assert board.direction == "lower" and [str(r.relative_to(runs_dir)) for r in board.runs] == [
        "a",
        "nested/b",
    ]
    assert len(board.rows) == 4 + 3
    want = sorted(
        (
            group_key(r),
            _stored(runs_dir / r["run"], r["kind"], r["name"])["classification"]["test"]["model"]["log_loss"],
            r["run"],
            r["name"],
        )
        for r in board.rows
    )
    assert [(group_key(r), r["value"], r["run"], r["name"]) for r in board.rows] == want


def test_rows_are_grouped_by_symbol_timeframe_and_horizon(runs_dir: Path) -> None:
    board = build_leaderboard(runs_dir, "sharpe")
    keys = [group_key(r) for r in board.rows]
    assert keys == sorted(keys) and {k[2] for k in keys} == {6, 12}
    assert {(r["symbol"], r["timeframe"]) for r in board.rows} == {("MES", "5m")}
    assert board.columns[:3] == ["symbol", "timeframe", "horizon"] and board.to_json()["group_by"] == [
        "symbol",
        "timeframe",
        "horizon",
    ]
    for r in board.rows:
        stored = _stored(runs_dir / r["run"], r["kind"], r["name"])["trading"]["test"]
        assert r["sharpe_interval"] == format_sharpe(stored["strategy"]) and " ± " in r["sharpe_interval"]


def test_sharpe_descending_on_val(runs_dir: Path) -> None:
    board = build_leaderboard(runs_dir, "sharpe", "val")
    values = [r["value"] for r in board.rows]
    assert board.direction == "higher" and values == sorted(values, reverse=True)
    top = board.rows[0]
    assert (
        top["value"]
        == _stored(runs_dir / top["run"], top["kind"], top["name"])["trading"]["val"]["strategy"]["sharpe"]
    )


def test_missing_and_nan_values_sort_last_for_both_directions(runs_dir: Path) -> None:
    path = runs_dir / "a" / "ensembles" / "stack_h6" / "metrics.json"
    m = json.loads(path.read_text())
    m["trading"]["test"]["strategy"]["sharpe"] = float("nan")
    path.write_text(json.dumps(m, allow_nan=True))
    for metric in ("sharpe", "pbo"):
        board = build_leaderboard(runs_dir, metric)
        stack_group = group_key(next(r for r in board.rows if r["name"] == "stack_h6"))
        group = [r for r in board.rows if group_key(r) == stack_group]
        values = np.array([np.nan if r["value"] is None else r["value"] for r in group])
        n_missing = int(np.isnan(values).sum())
        assert (
            n_missing >= 1 and np.isnan(values[-n_missing:]).all() and not np.isnan(values[:-n_missing]).any()
        )
    assert json.loads(json.dumps(board.to_json(), allow_nan=False))["rows"]  # strict JSON


def test_sort_rows_is_stable_and_puts_infinity_first_when_higher_is_better() -> None:
    rows = [{"value": v, "i": i} for i, v in enumerate([1.0, None, float("inf"), 1.0, float("nan"), -2.0])]
    assert [r["i"] for r in sort_rows(rows, "higher")] == [2, 0, 3, 5, 1, 4]
    assert [r["i"] for r in sort_rows(rows, "lower")] == [5, 0, 3, 2, 1, 4]


def test_infinity_is_a_string_in_json(runs_dir: Path) -> None:
    path = runs_dir / "a" / "models" / "dirichlet_h6" / "metrics.json"
    m = json.loads(path.read_text())
    m["trading"]["test"]["strategy"]["profit_factor"] = float(
        "inf"
    )  # what a run without losing trades stores
    path.write_text(json.dumps(m, allow_nan=True))
    board = build_leaderboard(runs_dir, "profit_factor")
    assert (board.rows[0]["run"], board.rows[0]["name"], board.rows[0]["value"]) == (
        "a",
        "dirichlet_h6",
        float("inf"),
    )
    js = json.loads(json.dumps(board.to_json(), allow_nan=False))
    assert js["rows"][0]["value"] == "inf" and js["rows"][0]["profit_factor"] == "inf"
    assert [r["value"] for r in js["rows"][1:]] == [r["value"] for r in board.rows[1:]]


def test_every_metric_has_a_direction_and_is_read_from_its_section(built_run: Path) -> None:
    m = _stored(built_run, "model", "logistic_h6")
    assert set(METRIC_DIRECTIONS.values()) == {"lower", "higher"}
    for metric in METRIC_DIRECTIONS:
        assert metric_value(m, metric, "test") is not None, metric
    assert metric_value(m, "brier", "val") == m["classification"]["val"]["model"]["brier"]
    assert metric_value(m, "max_drawdown", "test") == m["trading"]["test"]["strategy"]["max_drawdown"]


def test_errors_name_the_problem(runs_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"--metric 'sharp': unknown metric; choose one of log_loss \(lower"
    ):
        build_leaderboard(runs_dir, "sharp")
    with pytest.raises(ConfigError, match="--split 'train'"):
        build_leaderboard(runs_dir, "log_loss", "train")
    with pytest.raises(ArtifactError, match="no such directory"):
        build_leaderboard(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ArtifactError, match="no run directories below it"):
        find_runs(tmp_path / "empty")


def test_a_run_directory_itself_is_accepted(built_run: Path) -> None:
    board = build_leaderboard(built_run)
    assert board.runs == [built_run] and {r["run"] for r in board.rows} == {built_run.name}


def test_deflated_sharpe_is_reread_from_the_trial_registry(runs_dir: Path) -> None:
    from mlfactory.evaluation.trials import Trial, record_trial

    run = runs_dir / "a"
    record_trial(run, Trial("models/logistic_h6", "model", 6, "test", 0.08, 0.0, 3.0, 400))
    row = next(
        r
        for r in build_leaderboard(runs_dir, "deflated_sharpe").rows
        if r["run"] == "a" and r["name"] == "logistic_h6"
    )
    assert row["deflated_sharpe"] is None  # the only trial: nothing to deflate against
    record_trial(run, Trial("models/dirichlet_h6", "model", 6, "test", 0.01, 0.0, 3.0, 400))
    row = next(
        r
        for r in build_leaderboard(runs_dir, "deflated_sharpe").rows
        if r["run"] == "a" and r["name"] == "logistic_h6"
    )
    assert 0.0 < row["deflated_sharpe"] < 1.0
