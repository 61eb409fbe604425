"""Stacking and blending: the meta-learner chosen by name, and blending's time-ordered holdout slice."""

from __future__ import annotations

import math

import numpy as np
import pytest
from stacked_synth import META_LEARNERS, SMALL_PARAMS

from mlfactory.adapters.views import TabularView
from mlfactory.errors import ArtifactError, ConfigError, DataError
from mlfactory.models.base import Dataset
from mlfactory.models.config import load_model_config
from mlfactory.models.registry import get_model_class


def _relabel(ds: Dataset, rows: np.ndarray, seed: int = 5) -> Dataset:
    """``ds`` with random labels and features on ``rows``; everything else unchanged."""
    rng = np.random.default_rng(seed)
    y, x = ds.y.copy(), ds.x.x.copy()
    y[rows] = rng.choice(np.array([-1, 0, 1], np.int8), size=rows.size)
    x[rows] = rng.permutation(x[rows])
    return Dataset(TabularView(x, ds.timestamps, ds.x.feature_names), y, ds.sample_weight)


@pytest.mark.parametrize("meta", ["logistic", *META_LEARNERS])
def test_stacking_is_its_meta_learner_fitted_on_every_row(meta, stacked):
    train, _, test = stacked
    params = SMALL_PARAMS.get(meta, {})
    stacking = get_model_class("stacking")({"meta_learner": meta, "meta_params": params}, seed=4).fit(train)
    direct = get_model_class(meta)(params, seed=4).fit(train)
    assert stacking.meta_.name == meta
    np.testing.assert_array_equal(stacking.predict_proba(test.x), direct.predict_proba(test.x))


@pytest.mark.parametrize("meta", ["logistic", "ridge_meta", "xgboost_meta"])
def test_blending_fits_only_on_the_latest_holdout_rows(meta, stacked):
    train, _, test = stacked
    params = {"meta_learner": meta, "meta_params": SMALL_PARAMS.get(meta, {}), "holdout_frac": 0.4}
    n_hold = math.ceil(0.4 * len(train))
    early = np.arange(len(train) - n_hold)
    model = get_model_class("blending")(params, seed=1).fit(train)
    perturbed_early = get_model_class("blending")(params, seed=1).fit(_relabel(train, early))
    np.testing.assert_array_equal(model.predict_proba(test.x), perturbed_early.predict_proba(test.x))
    # positive control: the holdout rows are what it learns from
    late = np.arange(len(train) - n_hold, len(train))
    perturbed_late = get_model_class("blending")(params, seed=1).fit(_relabel(train, late))
    assert not np.allclose(model.predict_proba(test.x), perturbed_late.predict_proba(test.x))
    assert model.fit_span_ == (int(train.timestamps[-n_hold]), int(train.timestamps[-1]))


def test_blending_equals_its_meta_learner_fitted_on_the_holdout_slice(stacked):
    train, _, test = stacked
    blend = get_model_class("blending")({"holdout_frac": 0.25}, seed=2).fit(train)
    holdout = train.subset(np.arange(len(train) - math.ceil(0.25 * len(train)), len(train)))
    direct = get_model_class("logistic")({}, seed=2).fit(holdout)
    np.testing.assert_array_equal(blend.predict_proba(test.x), direct.predict_proba(test.x))


def test_stacking_learns_from_the_early_rows_too(stacked):
    train, _, test = stacked
    a = get_model_class("stacking")({}, seed=0).fit(train)
    b = get_model_class("stacking")({}, seed=0).fit(_relabel(train, np.arange(300)))
    assert not np.allclose(a.predict_proba(test.x), b.predict_proba(test.x))


@pytest.mark.parametrize("name", ["stacking", "blending"])
@pytest.mark.parametrize("bad", ["xgboost", "voting", "tcn", "nope"])
def test_only_meta_learners_and_logistic_can_be_chosen(name, bad):
    with pytest.raises(ConfigError, match=r"meta_learner: .*unknown meta-learner .*ridge_meta"):
        get_model_class(name)({"meta_learner": bad})


@pytest.mark.parametrize("name", ["stacking", "blending"])
def test_meta_params_are_validated_against_the_chosen_meta_learner(name):
    with pytest.raises(ConfigError, match=r"meta_params.*'mlp_meta'.*max_depth"):
        get_model_class(name)({"meta_learner": "mlp_meta", "meta_params": {"max_depth": 3}})
    model = get_model_class(name)({"meta_learner": "xgboost_meta", "meta_params": {"max_depth": 3}})
    assert model.inner_params_.max_depth == 3


def test_blending_holdout_too_small_is_a_clear_error(stacked):
    tiny = stacked[0].subset(np.arange(3))
    with pytest.raises(DataError, match="holdout_frac"):
        get_model_class("blending")({"holdout_frac": 0.9}).fit(tiny)


def test_tampered_inner_params_fail_the_ensemble_load(stacked, tmp_path):
    get_model_class("stacking")({}, seed=0).fit(stacked[0]).save(tmp_path)
    inner = tmp_path / "meta_learner" / "params.json"
    inner.write_text(inner.read_text().replace("balanced", "none"))
    with pytest.raises(ArtifactError, match=r"meta_learner/params\.json"):
        get_model_class("stacking").load(tmp_path)


@pytest.mark.parametrize("name", ["stacking", "blending"])
def test_shipped_configs_name_a_valid_meta_learner(name):
    cfg = load_model_config(name)
    assert cfg.params.meta_learner == "logistic"
    choices = cfg.search_space["meta_learner"].choices
    assert set(choices) == {"logistic", *META_LEARNERS}
