"""The ``ridge`` classifier: probabilities from a temperature softmax fitted on held-out rows."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from tabular_synth import planted_dataset

from mlfactory.adapters.views import TabularView, WindowView
from mlfactory.errors import ArtifactError, DataError
from mlfactory.models.base import Dataset, Family, MtfStrategy
from mlfactory.models.registry import get_model_class
from mlfactory.models.tabular.ridge import fit_temperature, ridge_scores, softmax

Ridge = get_model_class("ridge")


def _log_loss(p: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y + 1], 1e-15, None))))


def test_registry_attributes():
    assert Ridge.family == Family.CLASSICAL
    assert (Ridge.default_timeframe, Ridge.default_mtf_strategy, Ridge.default_feature_set) == (
        "1h",
        MtfStrategy.SINGLE_TF,
        "engineered",
    )


def test_probabilities_are_n_by_3_and_beat_the_prior(planted):
    train, val, test = planted
    p = Ridge({}, seed=0).fit(train, val).predict_proba(test.x)
    assert p.shape == (len(test), 3)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-9)
    prior = np.bincount(train.y + 1, minlength=3) / len(train)
    assert _log_loss(p, test.y) < _log_loss(np.tile(prior, (len(test), 1)), test.y) - 0.1


def test_save_load_round_trip_and_tampering(planted, tmp_path):
    train, val, test = planted
    model = Ridge({"alpha": 3.0}, seed=1).fit(train, val)
    model.save(tmp_path)
    loaded = Ridge.load(tmp_path)
    np.testing.assert_array_equal(loaded.predict_proba(test.x), model.predict_proba(test.x))
    assert loaded.temperature_ == model.temperature_ and loaded.calibrated_on_ == "val"
    meta = json.loads((tmp_path / "meta.json").read_text())
    meta["temperature"] *= 2
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match=r"meta\.json"):
        Ridge.load(tmp_path)


def test_temperature_minimises_the_validation_log_loss(planted):
    train, val, _ = planted
    model = Ridge({}, seed=0).fit(train, val)
    codes = np.searchsorted(model.classes_, val.y)
    scores = ridge_scores(model.estimator_, val.x.x)
    w = val.sample_weight * model._class_factors(train.y, train.sample_weight)[codes]

    def loss(t: float) -> float:
        p = softmax(scores / t)
        return float(-(w * np.log(p[np.arange(len(codes)), codes])).sum() / w.sum())

    t = model.temperature_
    assert loss(t) <= min(loss(t * 1.05), loss(t / 1.05))


def test_temperature_on_scrambled_validation_labels_flattens_the_probabilities(planted):
    train, val, test = planted
    noise = Dataset(val.x, np.random.default_rng(0).permutation(val.y), val.sample_weight)
    sharp = Ridge({}, seed=0).fit(train, val)
    flat = Ridge({}, seed=0).fit(train, noise)
    assert flat.temperature_ > 3 * sharp.temperature_
    np.testing.assert_array_equal(  # a single temperature never changes the predicted class
        flat.predict_proba(test.x).argmax(axis=1), sharp.predict_proba(test.x).argmax(axis=1)
    )


def test_without_validation_the_latest_training_rows_fit_the_temperature(planted):
    train = planted[0]
    model = Ridge({"calibration_frac": 0.25}, seed=0).fit(train)
    assert model.calibrated_on_ == "inner_split"
    n = len(train)
    late = np.arange(n - math.ceil(0.25 * n), n)
    y = train.y.copy()
    y[late] = np.random.default_rng(1).permutation(y[late])
    other = Ridge({"calibration_frac": 0.25}, seed=0).fit(Dataset(train.x, y, train.sample_weight))
    assert other.temperature_ > model.temperature_


def test_fit_temperature_recovers_a_known_temperature():
    rng = np.random.default_rng(0)
    scores = rng.normal(0, 2, size=(20000, 3))
    p = softmax(scores / 0.5)
    codes = (rng.uniform(size=(len(p), 1)) > p.cumsum(axis=1)).sum(axis=1)
    assert fit_temperature(scores, codes, np.ones(len(codes))) == pytest.approx(0.5, rel=0.05)


def test_two_class_training_gives_a_zero_column():
    ds = planted_dataset(n=600, seed=5)
    p = Ridge({}, seed=0).fit(ds.subset(np.flatnonzero(ds.y != -1))).predict_proba(ds.x)
    assert (p[:, 0] == 0).all()
    assert (p[:, 1:] > 0).all()


def test_nan_and_3d_input_are_refused(planted):
    train = planted[0]
    x = train.x.x.copy()
    x[3, 1] = np.nan
    with pytest.raises(DataError, match="NaN"):
        Ridge({}).fit(Dataset(TabularView(x, train.timestamps, train.x.feature_names), train.y))
    windows = WindowView(train.x.x, np.arange(4, 50), 5, train.timestamps[4:50], train.x.feature_names)
    with pytest.raises(DataError, match="tabular_2d"):
        Ridge({}).fit(Dataset(windows, train.y[4:50]))
