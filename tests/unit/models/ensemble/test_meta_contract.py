"""The model protocol for every registered meta-learner and ensemble combiner (counted from the registry)."""

from __future__ import annotations

import json
from functools import cache

import numpy as np
import pytest
from stacked_synth import FIVE_MIN, SMALL_PARAMS, STACKED_MODELS, log_loss, prior_log_loss, stacked_dataset

from mlfactory.adapters.views import MultiStreamView, TabularView, WindowView
from mlfactory.errors import ArtifactError, ConfigError, DataError
from mlfactory.models.base import Dataset, Family, InputKind
from mlfactory.models.registry import get_model_class


def test_the_meta_and_ensemble_models_are_registered_as_2d():
    assert {
        "ridge_meta",
        "mlp_meta",
        "calibrated_meta",
        "xgboost_meta",
        "voting",
        "stacking",
        "blending",
    } == set(STACKED_MODELS)
    for name in STACKED_MODELS:
        cls = get_model_class(name)
        assert cls.input_kind == InputKind.TABULAR
        expected = Family.ENSEMBLE if name in ("voting", "stacking", "blending") else Family.META
        assert cls.family == expected


@cache
def _fitted(name: str):
    ds = stacked_dataset(quality={"good": 2.0, "noise": 0.0}, masked="noise")
    return get_model_class(name)(SMALL_PARAMS[name], seed=3).fit(ds.subset(np.arange(0, 800)))


@pytest.mark.parametrize("name", STACKED_MODELS)
def test_predict_proba_is_n_by_3_and_sums_to_one(name, stacked):
    p = _fitted(name).predict_proba(stacked[2].x)
    assert p.shape == (len(stacked[2]), 3)
    assert (p >= 0).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-9)


@pytest.mark.parametrize("name", STACKED_MODELS)
def test_one_informative_base_beats_the_prior_log_loss(name, stacked):
    train, _, test = stacked
    assert log_loss(_fitted(name).predict_proba(test.x), test.y) < prior_log_loss(train, test) - 0.1


@pytest.mark.parametrize("name", STACKED_MODELS)
def test_fit_with_a_validation_set_gives_valid_probabilities(name, stacked):
    train, val, test = stacked
    p = get_model_class(name)(SMALL_PARAMS[name], seed=0).fit(train, val).predict_proba(test.x)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-9)
    assert log_loss(p, test.y) < prior_log_loss(train, test)


@pytest.mark.parametrize("name", STACKED_MODELS)
def test_save_load_round_trip_gives_identical_predictions(name, stacked, tmp_path):
    model = _fitted(name)
    model.save(tmp_path)
    loaded = get_model_class(name).load(tmp_path)
    np.testing.assert_array_equal(loaded.predict_proba(stacked[2].x), model.predict_proba(stacked[2].x))
    assert loaded.get_params() == model.get_params()
    assert loaded.seed == model.seed


@pytest.mark.parametrize("name", STACKED_MODELS)
def test_tampered_model_file_fails_load(name, tmp_path):
    _fitted(name).save(tmp_path)
    native = next(p for p in sorted(tmp_path.rglob("model.*")))
    data = bytearray(native.read_bytes())
    data[len(data) // 2] ^= 0x01
    native.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match=native.name):
        get_model_class(name).load(tmp_path)


@pytest.mark.parametrize("name", STACKED_MODELS)
def test_tampered_params_file_fails_load(name, tmp_path):
    _fitted(name).save(tmp_path)
    params = json.loads((tmp_path / "params.json").read_text())
    (tmp_path / "params.json").write_text(json.dumps(params))  # same values, different bytes
    with pytest.raises(ArtifactError, match=r"params\.json"):
        get_model_class(name).load(tmp_path)


@pytest.mark.parametrize("name", STACKED_MODELS)
def test_same_seed_same_predictions(name, stacked):
    again = get_model_class(name)(SMALL_PARAMS[name], seed=3).fit(stacked[0])
    np.testing.assert_array_equal(
        again.predict_proba(stacked[2].x), _fitted(name).predict_proba(stacked[2].x)
    )


@pytest.mark.parametrize("name", STACKED_MODELS)
def test_sequence_shaped_input_is_refused_as_not_stacked(name, stacked):
    """Regression: the old system validated the meta-learner's 2D input as if it were a sequence model."""
    train = stacked[0]
    n = len(train)
    windows = WindowView(train.x.x, np.arange(4, n), 5, train.timestamps[4:], train.x.feature_names)
    streams = MultiStreamView((windows, windows), ("5m", "15m"))
    for view in (windows, streams):
        with pytest.raises(DataError, match=rf"stacked 2D matrix.*got a {view.ndim}D view"):
            get_model_class(name)(SMALL_PARAMS[name]).fit(Dataset(view, train.y[4:]))
        with pytest.raises(DataError, match=rf"got a {view.ndim}D view"):
            _fitted(name).predict_proba(view)


@pytest.mark.parametrize("name", STACKED_MODELS)
def test_other_stacked_columns_at_predict_are_refused(name, stacked):
    test = stacked[2]
    names = list(test.x.feature_names)
    names[0], names[1] = names[1], names[0]
    swapped = TabularView(test.x.x[:, [1, 0, *range(2, test.x.n_features)]], test.timestamps, tuple(names))
    with pytest.raises(DataError, match="differ from the fitted stacked columns"):
        _fitted(name).predict_proba(swapped)


@pytest.mark.parametrize("name", STACKED_MODELS)
def test_rows_out_of_time_order_are_refused(name, stacked):
    train = stacked[0]
    order = np.r_[np.arange(100, 800), np.arange(0, 100)]
    shuffled = Dataset(
        TabularView(train.x.x[order], train.timestamps[order], train.x.feature_names), train.y[order]
    )
    with pytest.raises(DataError, match="strictly increasing"):
        get_model_class(name)(SMALL_PARAMS[name]).fit(shuffled)


@pytest.mark.parametrize("name", STACKED_MODELS)
def test_missing_values_in_the_stack_are_refused(name, stacked):
    train = stacked[0]
    x = train.x.x.copy()
    x[::9, 1] = np.nan
    with pytest.raises(DataError, match="NaN"):
        get_model_class(name)(SMALL_PARAMS[name]).fit(
            Dataset(TabularView(x, train.timestamps, train.x.feature_names), train.y)
        )


@pytest.mark.parametrize("name", STACKED_MODELS)
def test_predict_before_fit_is_refused(name, stacked):
    with pytest.raises(DataError, match="not fitted"):
        get_model_class(name)(SMALL_PARAMS[name]).predict_proba(stacked[2].x)


@pytest.mark.parametrize("name", STACKED_MODELS)
def test_unknown_parameter_is_a_config_error(name):
    with pytest.raises(ConfigError, match="n_trees"):
        get_model_class(name)({"n_trees": 3})


def test_stack_with_any_number_of_bases_and_no_meta_features():
    ds = stacked_dataset(n=600, quality={"a": 2.0, "b": 1.0, "c": 0.0}, meta_features=False)
    assert ds.x.n_features == 9
    assert ds.timestamps[1] - ds.timestamps[0] == FIVE_MIN
    for name in STACKED_MODELS:
        p = get_model_class(name)(SMALL_PARAMS[name]).fit(ds.subset(np.arange(400))).predict_proba(ds.x)
        np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-9)
