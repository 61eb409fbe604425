"""`mlfactory cv --method cpcv` on a real run, then the report's cross-validation section reads it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mlfactory.evaluation.report import load_run, render_report
from mlfactory.evaluation.trials import TRIALS_FILE
from mlfactory.training.cross_validate import run_cv
from mlfactory.training.train import train_model


@pytest.fixture
def fresh_run(small_run: Path, tmp_path: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(
        small_run, run, ignore=shutil.ignore_patterns("models", "ensembles", "cv", TRIALS_FILE + "*")
    )
    return run


def test_cpcv_paths_and_folds_reach_the_report(fresh_run: Path) -> None:
    run_cv(
        fresh_run, ["random_forest"], 10, n_splits=5, method="cpcv", test_groups=2, params=["n_estimators=10"]
    )
    train_model(fresh_run, "random_forest", 10, params=["n_estimators=10"])  # the report lists trained models
    section = next(s for s in render_report(load_run(fresh_run)).sections if s.id == "cv")
    assert section.available
    assert "random_forest_h10: cpcv" in section.body and "n_paths" in section.body
    assert section.body.count("<tr>") >= 10 + 1  # C(5, 2) = 10 folds in the per-fold table
