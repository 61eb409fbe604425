"""Feature importance of trained models: tree MDI, permutation MDA on validation rows, clustered."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import log_loss

from mlfactory.adapters.views import TabularView
from mlfactory.evaluation.feature_importance import (
    IMPORTANCE_FILE,
    correlation_clusters,
    model_feature_importance,
    permutation_mda,
    tree_mdi,
    write_importance,
)
from mlfactory.models.base import Dataset, make_params
from mlfactory.models.registry import all_models

NAMES = ["signal", "signal_copy", "noise_a", "noise_b"]


def _data(n: int, seed: int) -> Dataset:
    rng = np.random.default_rng(seed)
    s = rng.normal(size=n)
    x = np.column_stack([s, s + 0.05 * rng.normal(size=n), rng.normal(size=n), rng.normal(size=n)]).astype(
        np.float32
    )
    y = np.where(s + 0.3 * rng.normal(size=n) > 0.4, 1, np.where(s < -0.4, -1, 0)).astype(np.int8)
    ts = np.arange(n, dtype=np.int64) * 300 * 10**9
    return Dataset(TabularView(x, ts, tuple(NAMES)), y)


def _fit(name: str, params: dict):
    cls = all_models()[name]
    return cls(make_params(cls, params), seed=0, n_jobs=1).fit(_data(600, 0), None)


@pytest.fixture(scope="module")
def forest():
    return _fit("random_forest", {"n_estimators": 30})


@pytest.fixture(scope="module")
def logistic():
    return _fit("logistic", {})


def test_tree_mdi_is_the_forests_own_and_none_for_linear(forest, logistic):
    mdi = tree_mdi(forest, 4)
    np.testing.assert_allclose(
        mdi, forest.estimator_.feature_importances_ / forest.estimator_.feature_importances_.sum()
    )
    assert mdi.sum() == pytest.approx(1.0) and tree_mdi(logistic, 4) is None


def test_permutation_mda_matches_a_slow_loop(logistic):
    val = _data(300, 1)
    x, y = val.x.x, val.y
    groups = [np.array([0]), np.array([2, 3])]
    mean, se = permutation_mda(logistic, val.x, y, groups, n_repeats=3, seed=5)
    rng = np.random.default_rng(5)
    base = log_loss(y, logistic.predict_proba(val.x), labels=[-1, 0, 1])
    for g, cols in enumerate(groups):
        inc = []
        for _ in range(3):
            shuffled = x.copy()
            order = rng.permutation(x.shape[0])
            for c in cols:
                shuffled[:, c] = x[order, c]
            view = TabularView(shuffled, val.x.timestamps, tuple(NAMES))
            inc.append(log_loss(y, logistic.predict_proba(view), labels=[-1, 0, 1]) - base)
        assert mean[g] == pytest.approx(np.mean(inc)) and se[g] == pytest.approx(
            np.std(inc, ddof=1) / np.sqrt(3)
        )


def test_permutation_leaves_the_validation_view_unchanged(logistic):
    val = _data(200, 2)
    before = val.x.x.copy()
    permutation_mda(logistic, val.x, val.y, [np.array([0, 1])], n_repeats=2)
    np.testing.assert_array_equal(val.x.x, before)


def test_clusters_join_correlated_features_and_clustered_mda_sees_through_substitution(forest):
    val = _data(400, 3)
    groups = correlation_clusters(val.x.x, NAMES)
    assert any(set(g.tolist()) == {0, 1} for g in groups)
    imp = model_feature_importance(forest, val.x, val.y, NAMES, n_repeats=3, seed=0)
    mda = {k: v["mean"] for k, v in imp["mda"].items()}
    assert mda["signal"] > max(mda["noise_a"], mda["noise_b"])
    cluster = next(k for k, m in imp["clusters"].items() if set(m) == {"signal", "signal_copy"})
    # shuffling one of two copies leaves the other: the pair matters more than either alone
    assert imp["clustered_mda"][cluster]["mean"] > max(mda["signal"], mda["signal_copy"])
    assert imp["clustered_mdi"][cluster] == pytest.approx(imp["mdi"]["signal"] + imp["mdi"]["signal_copy"])


def test_constant_columns_stay_alone_and_too_few_columns_give_no_clusters():
    rng = np.random.default_rng(0)
    a = rng.normal(size=200)
    m = np.column_stack([a, a + 0.01 * rng.normal(size=200), rng.normal(size=200), np.ones(200)])
    groups = correlation_clusters(m, ["a", "b", "c", "k"])
    assert [3] in [g.tolist() for g in groups] and sum(len(g) for g in groups) == 4
    assert correlation_clusters(m[:, [0, 3]], ["a", "k"]) is None


def test_write_importance(tmp_path, logistic):
    val = _data(200, 4)
    imp = model_feature_importance(logistic, val.x, val.y, NAMES, n_repeats=2)
    path = write_importance(tmp_path, imp)
    assert path.name == IMPORTANCE_FILE and json.loads(path.read_text())["mdi"] is None
    assert set(json.loads(path.read_text())["mda"]) == set(NAMES)


@pytest.mark.parametrize("name", ["lightgbm", "xgboost", "catboost"])
def test_boosted_trees_report_their_gain_importance(name):
    cls = all_models()[name]
    params = {k: v for k, v in {"n_estimators": 15, "iterations": 15}.items() if k in cls.Params.model_fields}
    model = _fit(name, params)
    mdi = tree_mdi(model, 4)
    assert mdi is not None and mdi.shape == (4,) and mdi.sum() == pytest.approx(1.0)
    assert mdi[0] + mdi[1] > mdi[2] + mdi[3]  # the signal pair carries the gain
