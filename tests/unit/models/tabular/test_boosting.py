"""Early stopping and thread counts of the three boosting libraries."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tabular_synth import planted_dataset

from mlfactory.models.base import Dataset
from mlfactory.models.registry import get_model_class

BOOSTING = ["xgboost", "lightgbm", "catboost"]


def _noise_split():
    ds = planted_dataset(n=900, seed=4)
    y = np.random.default_rng(9).choice([-1, 0, 1], size=len(ds))  # independent of the features
    noise = Dataset(ds.x, y.astype(np.int8))
    return noise.subset(np.arange(700)), noise.subset(np.arange(700, 900))


@pytest.mark.parametrize("name", BOOSTING)
def test_early_stopping_on_validation_stops_before_the_last_round(name):
    train, val = _noise_split()
    params = {"n_estimators": 200, "early_stopping_rounds": 10, "learning_rate": 0.3}
    stopped = get_model_class(name)(params, seed=0).fit(train, val)
    assert stopped.best_iteration_ < 100
    full = get_model_class(name)(params, seed=0).fit(train)
    assert full.best_iteration_ == 199


@pytest.mark.parametrize("name", BOOSTING)
def test_validation_rows_change_only_the_stopping_round(name):
    """The booster fitted with early stopping equals a fresh fit capped at the chosen round count."""
    train, val = _noise_split()
    params = {"n_estimators": 200, "early_stopping_rounds": 10, "learning_rate": 0.3}
    stopped = get_model_class(name)(params, seed=0).fit(train, val)
    capped = get_model_class(name)({**params, "n_estimators": stopped.best_iteration_ + 1}, seed=0).fit(train)
    np.testing.assert_allclose(
        stopped.predict_proba(val.x), capped.predict_proba(val.x), rtol=1e-6, atol=1e-9
    )


def test_thread_counts_reach_the_libraries(planted):
    train = planted[0]
    xgb = get_model_class("xgboost")({"n_estimators": 5}, n_jobs=2).fit(train)
    config = json.loads(xgb.booster_.save_config())
    assert int(config["learner"]["generic_param"]["nthread"]) == 2
    lgb = get_model_class("lightgbm")({"n_estimators": 5}, n_jobs=2)
    lgb.fit(train)
    assert lgb._lgb_params()["num_threads"] == 2
    cat = get_model_class("catboost")({"n_estimators": 5}, n_jobs=2).fit(train)
    assert cat.estimator_.get_params()["thread_count"] == 2
