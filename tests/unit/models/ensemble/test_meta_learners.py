"""Per-model behaviour of the META learners: time-ordered holdout slices, purge, early stopping."""

from __future__ import annotations

import math

import numpy as np
import pytest
from stacked_synth import FIVE_MIN, stacked_dataset

from mlfactory.adapters.views import TabularView
from mlfactory.errors import ConfigError, DataError
from mlfactory.models.base import Dataset
from mlfactory.models.registry import get_model_class


def _relabel(ds: Dataset, rows: np.ndarray, seed: int = 5) -> Dataset:
    y = ds.y.copy()
    y[rows] = np.random.default_rng(seed).choice(np.array([-1, 0, 1], np.int8), size=rows.size)
    return Dataset(ds.x, y, ds.sample_weight)


def _scrambled(ds: Dataset) -> Dataset:
    """Labels no longer related to the features."""
    return Dataset(ds.x, np.random.default_rng(9).permutation(ds.y), ds.sample_weight)


# ------------------------------------------------------------------------------------------ calibrated_meta


def test_calibration_slice_is_later_than_the_fit_slice_with_a_purge_gap(stacked):
    train = stacked[0]
    model = get_model_class("calibrated_meta")({"calibration_frac": 0.25, "purge_rows": 7}).fit(train)
    ts = train.timestamps
    n_cal = math.ceil(0.25 * len(train))
    assert model.calibration_span_ == (int(ts[-n_cal]), int(ts[-1]))
    assert model.fit_span_ == (int(ts[0]), int(ts[len(train) - n_cal - 7 - 1]))
    assert model.fit_span_[1] < model.calibration_span_[0]
    assert (model.calibration_span_[0] - model.fit_span_[1]) // FIVE_MIN == 7 + 1


def test_purged_rows_and_calibration_labels_never_reach_the_logistic(stacked):
    train, _, test = stacked
    params = {"calibration_frac": 0.25, "purge_rows": 7}
    n = len(train)
    n_cal = math.ceil(0.25 * n)
    base = get_model_class("calibrated_meta")(params).fit(train)
    gap = np.arange(n - n_cal - 7, n - n_cal)
    # labels in the purge gap are used by nothing
    same = get_model_class("calibrated_meta")(params).fit(_relabel(train, gap))
    np.testing.assert_array_equal(same.predict_proba(test.x), base.predict_proba(test.x))
    # labels in the calibration slice move the calibrators, never the logistic
    recal = get_model_class("calibrated_meta")(params).fit(_relabel(train, np.arange(n - n_cal, n)))
    coef = base.logistic_.steps[-1][1].coef_
    np.testing.assert_array_equal(recal.logistic_.steps[-1][1].coef_, coef)
    assert not np.allclose(recal.predict_proba(test.x), base.predict_proba(test.x))


def test_with_a_validation_set_the_logistic_sees_all_training_rows_and_calibrates_on_val(stacked):
    train, val, _ = stacked
    model = get_model_class("calibrated_meta")({}).fit(train, val)
    assert model.fit_span_ == (int(train.timestamps[0]), int(train.timestamps[-1]))
    assert model.calibration_span_ == (int(val.timestamps[0]), int(val.timestamps[-1]))
    with pytest.raises(DataError, match="later rows"):
        get_model_class("calibrated_meta")({}).fit(val, train)


@pytest.mark.parametrize("method", ["sigmoid", "isotonic"])
def test_calibration_on_scrambled_labels_flattens_towards_the_priors(method, stacked):
    train, val, test = stacked
    good = get_model_class("calibrated_meta")({"method": method}).fit(train, val).predict_proba(test.x)
    flat = (
        get_model_class("calibrated_meta")({"method": method})
        .fit(train, _scrambled(val))
        .predict_proba(test.x)
    )
    assert flat.max(axis=1).mean() < good.max(axis=1).mean() - 0.1
    assert (flat > 0).all() and (good > 0).all()  # the floor keeps every class possible


def test_platt_calibration_is_a_logistic_map_of_each_class_probability(stacked):
    """Oracle: without renormalisation a Platt map equals sigmoid(a·logit(p) + b) with its fitted a, b."""
    train, val, test = stacked
    model = get_model_class("calibrated_meta")({"method": "sigmoid"}).fit(train, val)
    raw = model.logistic_.predict_proba(test.x.x)
    mapped = []
    for c, cal in enumerate(model.calibrators_):
        z = np.log(raw[:, c]) - np.log1p(-raw[:, c])
        mapped.append(1 / (1 + np.exp(-(cal.coef_[0, 0] * z + cal.intercept_[0]))))
    mapped = np.column_stack(mapped)
    np.testing.assert_allclose(
        model.predict_proba(test.x), mapped / mapped.sum(axis=1, keepdims=True), rtol=1e-6
    )


def test_class_absent_from_the_calibration_slice_stays_uncalibrated(stacked):
    train = stacked[0]
    keep = np.flatnonzero((np.arange(len(train)) < 600) | (train.y != 1))  # no longs in the latest rows
    sub = train.subset(keep)
    model = get_model_class("calibrated_meta")({"calibration_frac": 0.1, "purge_rows": 0}).fit(sub)
    assert model.uncalibrated_classes_ == [1]
    np.testing.assert_allclose(model.predict_proba(stacked[2].x).sum(axis=1), 1.0, atol=1e-9)


def test_calibration_method_is_validated():
    with pytest.raises(ConfigError, match="method"):
        get_model_class("calibrated_meta")({"method": "platt-ish"})


# ------------------------------------------------------------------------------------------ early stopping


def test_mlp_meta_stops_early_on_a_validation_set_whose_labels_are_noise(stacked):
    train, val, _ = stacked
    params = {"max_epochs": 60, "patience": 5, "learning_rate_init": 0.01}
    clean = get_model_class("mlp_meta")(params).fit(train, val)
    noise = get_model_class("mlp_meta")(params).fit(train, _scrambled(val))
    assert clean.stopped_on_ == noise.stopped_on_ == "val"
    assert noise.best_epoch_ < clean.best_epoch_


def test_mlp_meta_without_validation_picks_epochs_on_the_latest_rows_then_refits_on_all(stacked):
    train, _, test = stacked
    params = {"max_epochs": 30, "patience": 5, "learning_rate_init": 0.01, "validation_frac": 0.25}
    model = get_model_class("mlp_meta")(params).fit(train)
    assert model.stopped_on_ == "inner_split"
    assert 1 <= model.best_epoch_ <= 30
    # the latest quarter picks the epoch count: scrambling it changes the model; the refit uses all rows
    n = len(train)
    other = get_model_class("mlp_meta")(params).fit(_relabel(train, np.arange(n - n // 4, n)))
    assert not np.array_equal(other.predict_proba(test.x), model.predict_proba(test.x))


def test_xgboost_meta_stops_early_and_is_shallow(stacked):
    train, val, _ = stacked
    clean = get_model_class("xgboost_meta")({"n_estimators": 200}).fit(train, val)
    noise = get_model_class("xgboost_meta")({"n_estimators": 200}).fit(train, _scrambled(val))
    assert noise.best_iteration_ < clean.best_iteration_
    inner = get_model_class("xgboost_meta")({"n_estimators": 200}).fit(train)
    assert inner.stopped_on_ == "inner_split"
    assert inner.booster_.num_boosted_rounds() == inner.best_iteration_ + 1
    with pytest.raises(ConfigError, match="max_depth"):
        get_model_class("xgboost_meta")({"max_depth": 6})


def test_xgboost_meta_without_stopping_trains_every_round(stacked):
    model = get_model_class("xgboost_meta")({"n_estimators": 25, "validation_frac": 0}).fit(stacked[0])
    assert model.stopped_on_ == "none"
    assert model.booster_.num_boosted_rounds() == 25


def test_ridge_meta_fits_its_temperature_on_the_latest_rows_without_validation(stacked):
    train, val, _ = stacked
    assert get_model_class("ridge_meta")({}).fit(train).calibrated_on_ == "inner_split"
    assert get_model_class("ridge_meta")({}).fit(train, val).calibrated_on_ == "val"


def test_meta_defaults_keep_empirical_priors():
    for name in ("ridge_meta", "mlp_meta", "calibrated_meta", "xgboost_meta"):
        assert get_model_class(name).Params().class_weight == "none"


def test_meta_learner_uses_meta_feature_columns():
    """All columns are features: a planted signal only in a meta column is learned."""
    ds = stacked_dataset(n=1000, quality={"noise": 0.0}, meta_features=True, seed=3)
    names = list(ds.x.feature_names)
    x = ds.x.x.copy()
    x[:, names.index("meta__vol_regime")] = ds.y + np.random.default_rng(0).normal(0, 0.3, len(ds))
    planted = Dataset(TabularView(x, ds.timestamps, ds.x.feature_names), ds.y)
    p = get_model_class("ridge_meta")({}).fit(planted.subset(np.arange(700))).predict_proba(planted.x)
    assert (p.argmax(axis=1)[700:] - 1 == ds.y[700:]).mean() > 0.7
