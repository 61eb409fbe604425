"""Class weighting, thread counts and the skops trust list shared by the tabular models."""

from __future__ import annotations

import os

import numpy as np
import pytest
from sklearn.utils.class_weight import compute_class_weight
from tabular_synth import SMALL_PARAMS, TABULAR_MODELS, planted_dataset

from mlfactory.errors import ArtifactError, ConfigError
from mlfactory.models.base import Dataset
from mlfactory.models.registry import get_model_class
from mlfactory.models.tabular import logistic, random_forest
from mlfactory.models.tabular._base import balanced_class_factors, dump_skops, load_skops, resolve_n_jobs


def test_balanced_factors_match_sklearn_for_unit_weights():
    y = np.array([0] * 70 + [1] * 20 + [2] * 10)
    classes = np.array([0, 1, 2])
    expected = compute_class_weight("balanced", classes=classes, y=y)
    np.testing.assert_allclose(balanced_class_factors(y, np.ones(len(y)), classes), expected)


def test_balanced_factors_equalise_total_weight_per_class():
    rng = np.random.default_rng(1)
    y = rng.choice([-1, 0, 1], size=500, p=[0.1, 0.7, 0.2])
    w = rng.uniform(0.1, 3.0, 500)
    classes = np.array([-1, 0, 1])
    f = balanced_class_factors(y, w, classes)
    totals = [np.sum(w[y == c] * f[i]) for i, c in enumerate(classes)]
    np.testing.assert_allclose(totals, np.full(3, w.sum() / 3))


@pytest.mark.parametrize("name", TABULAR_MODELS)
def test_balanced_class_weight_raises_minority_probability(name):
    ds = planted_dataset(n=1200, seed=2, signal=0.3)
    rng = np.random.default_rng(0)
    # make "long" a 10% minority by relabelling most longs neutral
    y = ds.y.copy()
    y[(y == 1) & (rng.random(len(y)) < 0.7)] = 0
    data = Dataset(ds.x, y, ds.sample_weight)
    cls = get_model_class(name)
    p_bal = cls({**SMALL_PARAMS[name], "class_weight": "balanced"}, seed=0).fit(data).predict_proba(ds.x)
    p_none = cls({**SMALL_PARAMS[name], "class_weight": "none"}, seed=0).fit(data).predict_proba(ds.x)
    assert p_bal[:, 2].mean() > p_none[:, 2].mean() + 0.05


def test_resolve_n_jobs():
    assert resolve_n_jobs(3) == 3
    assert resolve_n_jobs(-1) == (os.cpu_count() or 1)
    with pytest.raises(ConfigError, match="n_jobs"):
        resolve_n_jobs(0)


def test_random_forest_uses_n_jobs(planted):
    model = get_model_class("random_forest")(SMALL_PARAMS["random_forest"], n_jobs=2).fit(planted[0])
    assert model.estimator_.n_jobs == 2


def test_skops_load_refuses_types_outside_the_trust_list(tmp_path, planted):
    forest = get_model_class("random_forest")(SMALL_PARAMS["random_forest"]).fit(planted[0])
    path = tmp_path / "model.skops"
    dump_skops(forest.estimator_, path)
    assert load_skops(path, random_forest.TRUSTED_TYPES) is not None
    with pytest.raises(ArtifactError, match=r"sklearn\.tree\._tree\.Tree"):
        load_skops(path, logistic.TRUSTED_TYPES)
