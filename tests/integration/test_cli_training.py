"""The training commands through the real CLI: one JSON object on stdout, exit 2 with a clear message on user errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from mlfactory.cli import app

runner = CliRunner()


def _json(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_train_json_and_device_flag(small_run: Path) -> None:
    out = _json(runner.invoke(app, ["train", "--run", str(small_run), "--model", "gru", "--horizon", "10",
                                    "--param", "epochs=1", "--param", "seq_len=8", "--device", "cpu", "--json"]))  # fmt: skip
    assert out["model"] == "gru" and out["test"]["log_loss"] > 0
    params = json.loads((Path(out["directory"]) / "routing.json").read_text())["params"]
    assert params["device"] == "cpu" and params["epochs"] == 1


def test_cv_json(small_run: Path) -> None:
    out = _json(runner.invoke(app, ["cv", "--run", str(small_run), "--models", "random_forest", "--horizon", "10",
                                    "--n-splits", "3", "--method", "walk-forward", "--param", "n_estimators=10", "--json"]))  # fmt: skip
    assert out["method"] == "walk-forward" and out["models"]["random_forest"]["folds"] == 3


def test_train_ensemble_report_leaderboard_and_predict(small_run: Path, tmp_path: Path) -> None:
    out = _json(runner.invoke(app, ["train-ensemble", "--run", str(small_run), "--base-models", "random_forest,svm",
                                    "--meta-learner", "voting", "--horizon", "10", "--n-splits", "3",
                                    "--param", "random_forest.n_estimators=10", "--fallback", "none", "--json"]))  # fmt: skip
    assert set(out["bases"]) == {"random_forest", "svm"} and out["guard"]["kept"] in (
        "meta",
        "weighted_average",
        "best_base",
    )
    rep = _json(runner.invoke(app, ["report", str(small_run), "--json"]))
    assert Path(rep["report"]).is_file()
    board = _json(
        runner.invoke(app, ["leaderboard", str(small_run.parent), "--metric", "log_loss", "--json"])
    )
    assert board["rows"] or board.get("entries")
    manifest = json.loads((small_run / "manifest.json").read_text())
    pred = _json(runner.invoke(app, ["predict", "--bundle", out["directory"], "--data", manifest["input"]["path"],
                                     "--out", str(tmp_path / "p.parquet"), "--json"]))  # fmt: skip
    assert pred["predicted"] > 0 and (tmp_path / "p.parquet").is_file()
    assert pred["fallback"] == "none" and pred["fallback_rows"] == 0  # --fallback is recorded in the bundle


def test_user_errors_exit_2_with_a_message(small_run: Path) -> None:
    cases = [
        (["train", "--run", str(small_run), "--model", "nope", "--horizon", "10"], "unknown model"),
        (
            ["train", "--run", str(small_run), "--model", "xgboost", "--horizon", "7"],
            "no labels for horizon 7",
        ),
        (
            [
                "train",
                "--run",
                str(small_run),
                "--model",
                "xgboost",
                "--horizon",
                "10",
                "--param",
                "depth_of_tree=3",
            ],
            "unknown parameter",
        ),
        (
            [
                "train-ensemble",
                "--run",
                str(small_run),
                "--base-models",
                "xgboost",
                "--meta-learner",
                "logistic",
                "--horizon",
                "10",
            ],
            "at least two",
        ),
        (
            [
                "train-ensemble",
                "--run",
                str(small_run),
                "--base-models",
                "xgboost,tcn",
                "--meta-learner",
                "tcn",
                "--horizon",
                "10",
            ],
            "always 2D",
        ),
        (
            [
                "train-ensemble",
                "--run",
                str(small_run),
                "--base-models",
                "xgboost,tcn",
                "--meta-learner",
                "logistic",
                "--horizon",
                "10",
                "--fallback",
                "sometimes",
            ],
            "--fallback 'sometimes'",
        ),
        (
            ["cv", "--run", str(small_run), "--models", "xgboost", "--horizon", "10", "--method", "random"],
            "--method",
        ),
        (["train", "--run", "/nonexistent", "--model", "xgboost", "--horizon", "10"], "not a run directory"),
    ]
    for args, needle in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert needle in result.output and "Traceback" not in result.output, (args, result.output)
