"""Soft voting: weights from each base's OOF log loss, blocks parsed from the column names, masks honoured."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import log_loss as sk_log_loss
from stacked_synth import stacked_dataset

from mlfactory.adapters.views import TabularView
from mlfactory.errors import DataError
from mlfactory.models.base import Dataset
from mlfactory.models.registry import get_model_class

QUALITY = {"good": 3.0, "weak": 1.0, "noise": 0.0}


def _voting(params=None):
    return get_model_class("voting")(params or {}, seed=0)


def _block(ds: Dataset, base: str) -> np.ndarray:
    names = list(ds.x.feature_names)
    idx = [names.index(f"{base}__{c}") for c in ("p_short", "p_neutral", "p_long")]
    p = ds.x.x[:, idx].astype(np.float64)
    return p / p.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("weighting", ["inverse_loss", "softmax"])
def test_a_better_base_gets_a_larger_weight(weighting):
    ds = stacked_dataset(quality=QUALITY)
    w = _voting({"weighting": weighting}).fit(ds).weights_
    assert w["good"] > w["weak"] > w["noise"] > 0
    assert sum(w.values()) == pytest.approx(1.0)


def test_weights_match_the_inverse_of_sklearn_weighted_log_loss():
    ds = stacked_dataset(quality=QUALITY)
    model = _voting().fit(ds)
    losses = {
        b: sk_log_loss(ds.y, _block(ds, b), sample_weight=ds.sample_weight, labels=[-1, 0, 1])
        for b in QUALITY
    }
    for b, loss in losses.items():
        assert model.base_log_loss_[b] == pytest.approx(loss, rel=1e-6)
    inv = {b: 1 / loss for b, loss in losses.items()}
    for b in QUALITY:
        assert model.weights_[b] == pytest.approx(inv[b] / sum(inv.values()), rel=1e-6)


def test_softmax_weighting_follows_its_formula_and_a_small_temperature_picks_the_best_base():
    ds = stacked_dataset(quality=QUALITY)
    model = _voting({"weighting": "softmax", "temperature": 0.1}).fit(ds)
    loss = np.array([model.base_log_loss_[b] for b in QUALITY])
    expected = np.exp(-(loss - loss.min()) / 0.1)
    np.testing.assert_allclose([model.weights_[b] for b in QUALITY], expected / expected.sum(), rtol=1e-9)
    sharp = _voting({"weighting": "softmax", "temperature": 0.001}).fit(ds)
    assert sharp.weights_["good"] > 0.999


def test_equal_weighting_ignores_the_losses():
    ds = stacked_dataset(quality=QUALITY)
    assert _voting({"weighting": "equal"}).fit(ds).weights_ == pytest.approx(dict.fromkeys(QUALITY, 1 / 3))


def test_prediction_is_the_weighted_average_of_the_blocks():
    ds = stacked_dataset(quality=QUALITY)
    model = _voting().fit(ds.subset(np.arange(800)))
    expected = sum(model.weights_[b] * _block(ds, b) for b in QUALITY)
    np.testing.assert_allclose(model.predict_proba(ds.x), expected, atol=1e-12)


def test_meta_feature_columns_are_ignored():
    ds = stacked_dataset(quality=QUALITY)
    x = ds.x.x.copy()
    meta_cols = [i for i, n in enumerate(ds.x.feature_names) if n.startswith("meta__")]
    assert meta_cols
    x[:, meta_cols] = np.random.default_rng(1).normal(size=(len(x), len(meta_cols)))
    other = Dataset(TabularView(x, ds.timestamps, ds.x.feature_names), ds.y, ds.sample_weight)
    a, b = _voting().fit(ds), _voting().fit(other)
    assert a.weights_ == b.weights_
    np.testing.assert_array_equal(a.predict_proba(ds.x), b.predict_proba(other.x))


def test_a_masked_base_does_not_vote_on_its_imputed_rows():
    ds = stacked_dataset(quality={"good": 3.0, "weak": 1.0}, masked="weak", meta_features=False)
    model = _voting().fit(ds)
    masked = ds.x.x[:, list(ds.x.feature_names).index("weak__mask")] == 1
    p = model.predict_proba(ds.x)
    np.testing.assert_allclose(p[masked], _block(ds, "good")[masked], atol=1e-12)
    w = model.weights_
    blend = w["good"] * _block(ds, "good") + w["weak"] * _block(ds, "weak")
    np.testing.assert_allclose(p[~masked], blend[~masked], atol=1e-12)
    # the weak base is scored only on the rows it really predicted
    live = ~masked
    expected = sk_log_loss(
        ds.y[live], _block(ds, "weak")[live], sample_weight=ds.sample_weight[live], labels=[-1, 0, 1]
    )
    assert model.base_log_loss_["weak"] == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (("a__p_short", "a__p_neutral", "a__p_long", "rsi_14"), "rsi_14"),
        (("a__p_short", "a__p_neutral", "b__p_short"), "lacks"),
        (("meta__hour_sin", "meta__vol_regime", "meta__x"), "no <base>__p_"),
    ],
)
def test_columns_that_are_not_probability_blocks_are_refused(names, message):
    n = 60
    x = np.random.default_rng(0).dirichlet(np.ones(len(names)), size=n).astype(np.float32)
    ds = Dataset(
        TabularView(x, np.arange(n, dtype=np.int64), names), np.tile(np.array([-1, 0, 1], np.int8), n // 3)
    )
    with pytest.raises(DataError, match=message):
        _voting().fit(ds)
