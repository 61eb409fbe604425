"""Optuna tuning: seeded, bounded by the search space, scored by the purged-CV log loss of generate_oof."""

from __future__ import annotations

import json

import numpy as np
import pytest
from oof_synth import FIVE_MIN, planted_dataset
from sklearn.metrics import log_loss

from mlfactory.errors import ConfigError
from mlfactory.models.base import Dataset
from mlfactory.models.config import categorical_dim, float_dim, load_model_config
from mlfactory.models.registry import get_model_class
from mlfactory.runtime.executor import InProcessExecutor
from mlfactory.splits import purged_kfold
from mlfactory.training.cv_plan import CVPlan
from mlfactory.training.oof import generate_oof
from mlfactory.training.tuning import cv_log_loss, tune, tune_config, write_best_params

EMBARGO = 2 * FIVE_MIN


@pytest.fixture(scope="module")
def problem():
    ds, t1 = planted_dataset(n=600)
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(ds))
    ds = Dataset(ds.x, ds.y, w)
    return ds, t1, purged_kfold(ds.timestamps, t1, 3, EMBARGO)


def _tune_logistic(problem, seed=0, n_trials=4, space=None):
    ds, t1, folds = problem
    space = space or {"C": float_dim(1e-4, 10.0, log=True)}
    plan = CVPlan.from_folds(ds.timestamps, t1, folds, embargo_ns=EMBARGO, inner_val_frac=0.2)
    return tune(
        get_model_class("logistic"),
        {},
        ds,
        plan,
        InProcessExecutor(),
        n_trials=n_trials,
        seed=seed,
        search_space=space,
    )


def test_cv_log_loss_matches_sklearn(problem):
    ds, t1, folds = problem
    plan = CVPlan.from_folds(ds.timestamps, t1, folds, inner_val_frac=None)
    frame = generate_oof(get_model_class("logistic"), {}, ds, plan, InProcessExecutor(), 0).frame
    p = frame.select("p_short", "p_neutral", "p_long").to_numpy()
    expected = log_loss(ds.y, p, sample_weight=ds.sample_weight, labels=[-1, 0, 1])
    assert cv_log_loss(frame, ds) == pytest.approx(expected, rel=1e-9)


def test_same_seed_same_study_and_best_value_is_the_min_trial(problem):
    a = _tune_logistic(problem, seed=5)
    b = _tune_logistic(problem, seed=5)
    assert a.trials.equals(b.trials)
    assert a.best_params == b.best_params
    assert a.trials.height == 4
    assert a.best_value == a.trials["log_loss"].min()
    assert _tune_logistic(problem, seed=6).trials["C"].to_list() != a.trials["C"].to_list()


def test_best_params_reproduce_the_best_value(problem):
    ds, t1, folds = problem
    result = _tune_logistic(problem)
    plan = CVPlan.from_folds(ds.timestamps, t1, folds, embargo_ns=EMBARGO, inner_val_frac=0.2)
    frame = generate_oof(
        get_model_class("logistic"), result.best_params, ds, plan, InProcessExecutor(), 0
    ).frame
    assert cv_log_loss(frame, ds) == pytest.approx(result.best_value, rel=1e-12)
    assert set(result.best_params) == set(get_model_class("logistic").Params.model_fields)


def test_samples_stay_inside_the_search_space(problem):
    result = _tune_logistic(problem, n_trials=6, space={"C": float_dim(0.01, 0.1)})
    assert result.trials["C"].is_between(0.01, 0.1).all()
    cat = _tune_logistic(problem, n_trials=3, space={"C": categorical_dim(0.001, 1.0)})
    assert set(cat.trials["C"].to_list()) <= {0.001, 1.0}


def test_tune_config_uses_the_yaml_search_space(problem, tmp_path):
    ds, t1, folds = problem
    path = tmp_path / "xgboost.yaml"
    path.write_text(
        "params:\n  n_estimators: 15\n  early_stopping_rounds: 5\n"
        "search_space:\n  max_depth: {type: categorical, choices: [2, 3]}\n"
    )
    config = load_model_config("xgboost", path)
    plan = CVPlan.from_folds(ds.timestamps, t1, folds, embargo_ns=EMBARGO, inner_val_frac=0.2)
    result = tune_config(config, ds, plan, InProcessExecutor(), n_trials=2, seed=0)
    assert set(result.trials["max_depth"].to_list()) <= {2, 3}
    assert set(result.trials.columns) == {"number", "log_loss", *config.search_space}
    assert result.best_params["n_estimators"] == 15
    out = json.loads(write_best_params(result, tmp_path / "run").read_text())
    assert out["best_params"] == result.best_params
    assert out["n_trials"] == 2


def test_bad_tuning_requests_are_refused(problem):
    with pytest.raises(ConfigError, match="n_trials"):
        _tune_logistic(problem, n_trials=0)
    with pytest.raises(ConfigError, match="not parameters"):
        _tune_logistic(problem, space={"gamma": float_dim(0.1, 1.0)})
    ds, t1, folds = problem
    cls = get_model_class("logistic")
    with pytest.raises(ConfigError, match="has none"):
        tune(
            cls,
            {},
            ds,
            CVPlan.from_folds(ds.timestamps, t1, folds),
            InProcessExecutor(),
            n_trials=1,
            seed=0,
            search_space={},
        )
