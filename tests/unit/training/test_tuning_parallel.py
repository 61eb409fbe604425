"""Parallel tuning: trials as executor jobs on a journal-file study, pruned, resumable, executor-independent."""

from __future__ import annotations

import os

import optuna
import polars as pl
import pytest
from oof_synth import FIVE_MIN, planted_dataset
from polars.testing import assert_frame_equal

from mlfactory.models.config import float_dim
from mlfactory.models.registry import get_model_class
from mlfactory.runtime.executor import InProcessExecutor, LocalProcessExecutor
from mlfactory.splits import purged_kfold
from mlfactory.training.cv_plan import CVPlan
from mlfactory.training.oof import generate_oof
from mlfactory.training.tuning import journal_storage, tune_parallel

EMBARGO = 2 * FIVE_MIN
SPACE = {"C": float_dim(1e-6, 1e3, log=True)}


@pytest.fixture(scope="module")
def problem():
    ds, t1 = planted_dataset(n=600)
    folds = purged_kfold(ds.timestamps, t1, 3, EMBARGO)
    return ds, CVPlan.from_folds(ds.timestamps, t1, folds, embargo_ns=EMBARGO, inner_val_frac=0.2)


def _tune(problem, executor, storage, n_trials=8, on_trial=None):
    ds, plan = problem
    return tune_parallel(
        get_model_class("logistic"), {}, ds, plan, executor, n_trials=n_trials, seed=3,
        storage=storage, batch=2, search_space=SPACE, n_startup_trials=2, on_trial=on_trial,
    )  # fmt: skip


def test_same_study_in_process_and_on_a_pool_with_pruning(problem, tmp_path):
    ref = _tune(problem, InProcessExecutor(), tmp_path / "a.journal")
    with LocalProcessExecutor(2) as pool:
        par = _tune(problem, pool, tmp_path / "b.journal")
    assert par.trials.equals(ref.trials) and par.best_params == ref.best_params
    assert ref.trials.height == 8
    states = ref.trials["state"].to_list()
    assert "PRUNED" in states and "COMPLETE" in states  # hopeless trials stopped early
    assert ref.best_value == ref.trials["log_loss"].min()
    assert (tmp_path / "a.journal").stat().st_size > 0


def test_a_rerun_continues_the_study_and_fails_stale_trials(problem, tmp_path):
    storage = tmp_path / "s.journal"
    first = _tune(problem, InProcessExecutor(), storage, n_trials=4)
    study = optuna.load_study(study_name="logistic", storage=journal_storage(storage))
    stale = study.ask()  # as if a worker was killed mid-trial
    more = _tune(problem, InProcessExecutor(), storage, n_trials=6)
    assert more.trials.height == 6
    assert more.trials.head(4).equals(first.trials)  # finished trials kept, not recomputed
    study = optuna.load_study(study_name="logistic", storage=journal_storage(storage))
    assert study.trials[stale.number].state == optuna.trial.TrialState.FAIL
    assert stale.number not in more.trials["number"].to_list()


def test_every_completed_trial_reaches_on_trial_once_in_the_driver_with_its_oof(problem, tmp_path):
    ds, plan = problem
    seen: dict[str, list] = {"inprocess": [], "pool": []}
    driver = os.getpid()

    def recorder(name):
        def on_trial(number, oof):
            assert os.getpid() == driver  # recorded where the result came back, not in a worker
            seen[name].append((number, oof))

        return on_trial

    ref = _tune(problem, InProcessExecutor(), tmp_path / "a.journal", on_trial=recorder("inprocess"))
    with LocalProcessExecutor(2) as pool:
        _tune(problem, pool, tmp_path / "b.journal", on_trial=recorder("pool"))
    complete = ref.trials.filter(pl.col("state") == "COMPLETE")["number"].to_list()
    assert 0 < len(complete) < ref.trials.height  # some were pruned: those have no full OOF
    for name, calls in seen.items():
        assert sorted(n for n, _ in calls) == sorted(complete), name  # each completed trial exactly once
    pool_frames = dict(seen["pool"])
    for number, oof in seen["inprocess"]:
        assert_frame_equal(oof, pool_frames[number], check_exact=True)
    # the recorded frame is the trial's own OOF: the best trial's equals generate_oof with its params
    best = ref.trials.sort("log_loss").row(0, named=True)["number"]
    direct = generate_oof(get_model_class("logistic"), ref.best_params, ds, plan, InProcessExecutor(), 3)
    assert_frame_equal(dict(seen["inprocess"])[best], direct.frame, check_exact=True)


def test_a_rerun_does_not_report_finished_trials_again(problem, tmp_path):
    storage, calls = tmp_path / "s.journal", []
    _tune(problem, InProcessExecutor(), storage, n_trials=3, on_trial=lambda n, oof: calls.append(n))
    first = list(calls)
    _tune(problem, InProcessExecutor(), storage, n_trials=3, on_trial=lambda n, oof: calls.append(n))
    assert calls == first and len(set(first)) == len(first) > 0
