"""The model protocol, checked for every registered tabular model (counted from the registry)."""

from __future__ import annotations

import json
import re
from functools import cache

import numpy as np
import pytest
from tabular_synth import SMALL_PARAMS, TABULAR_MODELS, planted_dataset

from mlfactory.adapters.views import TabularView, WindowView
from mlfactory.errors import ArtifactError, DataError
from mlfactory.models.base import Dataset
from mlfactory.models.registry import get_model_class


def test_all_six_tabular_models_are_registered():
    assert {"xgboost", "lightgbm", "catboost", "random_forest", "logistic", "svm"} <= set(TABULAR_MODELS)


@cache
def _fitted(name: str):
    ds = planted_dataset()
    train, val = ds.subset(np.arange(0, 1000)), ds.subset(np.arange(1000, 1200))
    return get_model_class(name)(SMALL_PARAMS[name], seed=3).fit(train, val)


def _log_loss(p: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y + 1], 1e-15, None))))


@pytest.mark.parametrize("name", TABULAR_MODELS)
def test_predict_proba_is_n_by_3_and_sums_to_one(name, planted):
    p = _fitted(name).predict_proba(planted[2].x)
    assert p.shape == (len(planted[2]), 3)
    assert (p >= 0).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-9)


@pytest.mark.parametrize("name", TABULAR_MODELS)
def test_planted_pattern_beats_prior_baseline_log_loss(name, planted):
    train, _, test = planted
    prior = np.bincount(train.y + 1, minlength=3) / len(train)
    baseline = _log_loss(np.tile(prior, (len(test), 1)), test.y)
    model_ll = _log_loss(_fitted(name).predict_proba(test.x), test.y)
    assert model_ll < baseline - 0.1, (name, model_ll, baseline)


@pytest.mark.parametrize("name", TABULAR_MODELS)
def test_save_load_round_trip_gives_identical_predictions(name, planted, tmp_path):
    model = _fitted(name)
    model.save(tmp_path)
    loaded = get_model_class(name).load(tmp_path)
    np.testing.assert_array_equal(loaded.predict_proba(planted[2].x), model.predict_proba(planted[2].x))
    assert loaded.get_params() == model.get_params()
    assert loaded.seed == model.seed


@pytest.mark.parametrize("name", TABULAR_MODELS)
def test_tampered_model_file_fails_load(name, tmp_path):
    _fitted(name).save(tmp_path)
    native = next(p for p in tmp_path.iterdir() if p.name.startswith("model."))
    data = bytearray(native.read_bytes())
    data[len(data) // 2] ^= 0x01
    native.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match=re.escape(native.name)):
        get_model_class(name).load(tmp_path)


@pytest.mark.parametrize("name", TABULAR_MODELS)
def test_tampered_params_file_fails_load(name, tmp_path):
    _fitted(name).save(tmp_path)
    params = json.loads((tmp_path / "params.json").read_text())
    params["class_weight"] = "none"
    (tmp_path / "params.json").write_text(json.dumps(params))
    with pytest.raises(ArtifactError, match=r"params\.json"):
        get_model_class(name).load(tmp_path)


def test_loading_another_models_directory_fails(tmp_path):
    _fitted("logistic").save(tmp_path)
    with pytest.raises(ArtifactError, match="'logistic'"):
        get_model_class("svm").load(tmp_path)


@pytest.mark.parametrize("name", TABULAR_MODELS)
def test_same_seed_same_predictions(name, planted):
    train, val, test = planted
    again = get_model_class(name)(SMALL_PARAMS[name], seed=3).fit(train, val)
    np.testing.assert_array_equal(again.predict_proba(test.x), _fitted(name).predict_proba(test.x))


@pytest.mark.parametrize("name", TABULAR_MODELS)
def test_class_absent_from_training_gets_a_zero_column(name):
    ds = planted_dataset(n=600, seed=5)
    train = ds.subset(np.flatnonzero(ds.y != -1))
    p = get_model_class(name)(SMALL_PARAMS[name], seed=0).fit(train).predict_proba(ds.x)
    assert p.shape == (600, 3)
    assert (p[:, 0] == 0).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-9)
    assert (p[:, 1:] > 0).any(axis=0).all()


@pytest.mark.parametrize("name", TABULAR_MODELS)
def test_single_class_training_set_is_refused(name):
    ds = planted_dataset(n=300)
    train = ds.subset(np.flatnonzero(ds.y == 0))
    with pytest.raises(DataError, match="at least two classes"):
        get_model_class(name)(SMALL_PARAMS[name]).fit(train)


@pytest.mark.parametrize("name", TABULAR_MODELS)
def test_3d_input_is_refused(name):
    ds = planted_dataset(n=50)
    windows = WindowView(ds.x.x, np.arange(4, 50), 5, ds.timestamps[4:], ds.x.feature_names)
    with pytest.raises(DataError, match="tabular_2d"):
        get_model_class(name)(SMALL_PARAMS[name]).fit(Dataset(windows, ds.y[4:]))
    with pytest.raises(DataError, match="tabular_2d"):
        _fitted(name).predict_proba(windows)


@pytest.mark.parametrize("name", TABULAR_MODELS)
def test_wrong_feature_count_at_predict_is_refused(name):
    x = np.zeros((5, 3), dtype=np.float32)
    with pytest.raises(DataError, match="8 features"):
        _fitted(name).predict_proba(TabularView(x, np.arange(5, dtype=np.int64), ("a", "b", "c")))


@pytest.mark.parametrize("name", TABULAR_MODELS)
def test_missing_values_are_routed_or_refused(name, planted):
    train, _, test = planted
    x = train.x.x.copy()
    x[::7, 0] = np.nan
    with_nan = Dataset(TabularView(x, train.timestamps, train.x.feature_names), train.y, train.sample_weight)
    model = get_model_class(name)(SMALL_PARAMS[name], seed=0)
    if model.allows_nan:
        assert np.isfinite(model.fit(with_nan).predict_proba(test.x)).all()
    else:
        with pytest.raises(DataError, match=r"NaN \(columns \[0\]\)"):
            model.fit(with_nan)


@pytest.mark.parametrize("name", TABULAR_MODELS)
def test_infinite_features_are_refused(name):
    ds = planted_dataset(n=200)
    x = ds.x.x.copy()
    x[10, 2] = np.inf
    bad = Dataset(TabularView(x, ds.timestamps, ds.x.feature_names), ds.y)
    with pytest.raises(DataError, match=r"inf \(columns \[2\]\)"):
        get_model_class(name)(SMALL_PARAMS[name]).fit(bad)


@pytest.mark.parametrize("name", TABULAR_MODELS)
def test_predict_before_fit_is_refused(name, planted):
    with pytest.raises(DataError, match="not fitted"):
        get_model_class(name)(SMALL_PARAMS[name]).predict_proba(planted[2].x)
