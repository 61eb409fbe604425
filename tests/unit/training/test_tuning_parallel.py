"""Parallel tuning: trials as executor jobs on a journal-file study, pruned, resumable, executor-independent."""

from __future__ import annotations

import optuna
import pytest
from oof_synth import FIVE_MIN, planted_dataset

from mlfactory.models.config import float_dim
from mlfactory.models.registry import get_model_class
from mlfactory.runtime.executor import InProcessExecutor, LocalProcessExecutor
from mlfactory.splits import purged_kfold
from mlfactory.training.cv_plan import CVPlan
from mlfactory.training.tuning import journal_storage, tune_parallel

EMBARGO = 2 * FIVE_MIN
SPACE = {"C": float_dim(1e-6, 1e3, log=True)}


@pytest.fixture(scope="module")
def problem():
    ds, t1 = planted_dataset(n=600)
    folds = purged_kfold(ds.timestamps, t1, 3, EMBARGO)
    return ds, CVPlan.from_folds(ds.timestamps, t1, folds, embargo_ns=EMBARGO, inner_val_frac=0.2)


def _tune(problem, executor, storage, n_trials=8):
    ds, plan = problem
    return tune_parallel(
        get_model_class("logistic"), {}, ds, plan, executor, n_trials=n_trials, seed=3,
        storage=storage, batch=2, search_space=SPACE, n_startup_trials=2,
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
