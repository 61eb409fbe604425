"""Walk-forward re-fit backtest: steps on trading days, purged against their test window, stitched."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from mlfactory.cli import app
from mlfactory.errors import DataError
from mlfactory.evaluation.report import write_report
from mlfactory.run_data import RunData
from mlfactory.training.configs import resolve_config
from mlfactory.training.ensemble_fit import EnsembleSpec
from mlfactory.training.walk_forward import (
    ModelStepJob,
    WalkForwardSpec,
    decision_trading_days,
    fit_predict_model_step,
    plan_steps,
    run_walk_forward,
)

RF = ("n_estimators=10",)


def test_steps_cover_later_days_and_train_only_on_purged_past(small_run: Path) -> None:
    data = RunData(small_run)
    clock = data.clock(10)
    days = decision_trading_days(data, clock)
    steps = plan_steps(clock, days, WalkForwardSpec(10, train_days=6, test_days=3))
    assert len(steps) >= 3
    for s in steps:
        split = s.clock.split
        test_start = s.clock.ts[split == "test"].min()
        fitted = np.isin(split, ["train", "val"])
        assert (s.clock.t1[fitted] < test_start).all(), "a training label reaches into the test window"
        assert s.clock.ts[split == "train"].max() < s.clock.ts[split == "val"].min()
        assert (s.clock.t1[split == "train"] < s.clock.ts[split == "val"].min()).all()
        assert len(np.unique(days[split == "test"])) <= 3
        assert len(np.unique(days[fitted])) <= 6
    test_days = [set(days[s.clock.split == "test"]) for s in steps]
    assert all(a.isdisjoint(b) for a, b in itertools.pairwise(test_days))


def test_a_step_does_not_see_labels_after_its_test_window(small_run: Path) -> None:
    data = RunData(small_run)
    clock = data.clock(10)
    step = plan_steps(clock, decision_trading_days(data, clock), WalkForwardSpec(10, 6, 3))[0]
    cfg = resolve_config("random_forest", params=RF)
    before = fit_predict_model_step(data, ModelStepJob(step, cfg, 0))
    later = clock.ts > clock.ts[step.clock.split == "test"].max()
    flipped = replace(step.clock, y=np.where(later, -step.clock.y, step.clock.y).astype(np.int8))
    after = fit_predict_model_step(data, ModelStepJob(replace(step, clock=flipped), cfg, 0))
    assert later.sum() > 100
    assert before.equals(after)


def test_walk_forward_of_a_model_writes_a_stitched_costed_backtest(small_run: Path) -> None:
    result = run_walk_forward(small_run, WalkForwardSpec(10, 6, 3), model="random_forest", params=RF)
    out = result.directory
    assert out is not None and out.parent.name == "backtests"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["kind"] == "backtest" and metrics["walk_forward"]["steps"] == len(result.steps)
    assert 0.4 < metrics["coverage"]["fraction"] <= 1.0
    assert "sharpe" in metrics["trading"]["oos"]["strategy"]
    preds = pl.read_parquet(out / "predictions_oos.parquet")
    assert preds["timestamp"].is_unique().all() and preds["step"].null_count() == 0
    assert preds.height == metrics["coverage"]["out_of_sample"]
    assert (out / "equity_oos.parquet").is_file() and (out / "daily_ic.parquet").is_file()
    steps = json.loads((out / "steps.json").read_text())
    assert [s["step"] for s in steps] == list(range(len(steps)))
    report = write_report(small_run)
    section = next(s for s in report.sections if s.id == "backtests")
    assert section.available and out.name in section.body and "Sharpe per step" in section.body


def test_walk_forward_refits_the_whole_ensemble_per_step(small_run: Path) -> None:
    spec = EnsembleSpec(
        bases=("random_forest", "svm"), meta_learner="logistic", horizon=10,
        params=("random_forest.n_estimators=10", "svm.n_components=32"), n_splits=3, name="wf_pair",
    )  # fmt: skip
    result = run_walk_forward(small_run, WalkForwardSpec(10, 8, 4), ensemble=spec)
    preds = pl.read_parquet(result.directory / "predictions_oos.parquet")
    assert preds.height > 100 and preds["step"].n_unique() == len(result.steps) >= 2
    assert (result.directory / "steps" / "000" / "bases" / "svm" / "model").is_dir()


def test_too_few_days_is_an_error(small_run: Path) -> None:
    with pytest.raises(DataError, match="trading days"):
        run_walk_forward(small_run, WalkForwardSpec(10, 400, 3), model="random_forest", params=RF)


def test_cli_backtest_json(small_run: Path) -> None:
    res = CliRunner().invoke(
        app,
        ["backtest", "--run", str(small_run), "--model", "random_forest", "--horizon", "10", "--walk-forward",
         "--train-days", "6", "--test-days", "4", "--param", "n_estimators=10", "--json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["coverage"]["out_of_sample"] > 0 and len(out["steps"]) >= 2
    res = CliRunner().invoke(app, ["backtest", "--run", str(small_run), "--model", "random_forest", "--horizon", "10",
                                   "--train-days", "6", "--test-days", "4"])  # fmt: skip
    assert res.exit_code == 2 and "--walk-forward" in res.output


def test_the_prior_baseline_uses_only_labels_resolved_before_the_period(small_run: Path) -> None:
    from mlfactory.training.walk_forward import known_class_priors

    clock = RunData(small_run).clock(10)
    start = int(clock.ts[len(clock) // 2])
    before = known_class_priors(clock, start)
    later = replace(clock, y=np.where(clock.ts >= start, 1, clock.y).astype(np.int8))  # perturb the future
    np.testing.assert_array_equal(known_class_priors(later, start), before)
    assert before.sum() == pytest.approx(1.0)
