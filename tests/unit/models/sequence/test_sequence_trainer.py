"""The shared training loop: batching, class factors, train-only scaling, early stopping, params."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sequence_synth import SEQ_LEN, SEQUENCE_MODELS, planted_dataset, small_params
from sklearn.utils.class_weight import compute_class_weight

from mlfactory.adapters.views import WindowView
from mlfactory.errors import ConfigError, DataError
from mlfactory.models.base import Dataset
from mlfactory.models.config import load_model_config
from mlfactory.models.registry import get_model_class
from mlfactory.models.sequence._trainer import (
    Batches,
    FeatureScaler,
    _covered_mean_std,
    balanced_class_factors,
    covered_rows,
    index_batches,
    resolve_device,
    weighted_loss,
)


def test_covered_rows_matches_a_loop_over_windows():
    rng = np.random.default_rng(0)
    values = np.zeros((200, 2), dtype=np.float32)
    ends = np.sort(rng.choice(np.arange(9, 200), size=25, replace=False))
    view = WindowView(values, ends, 10, ends.astype(np.int64), ("a", "b"))
    expected = np.zeros(200, dtype=bool)
    for e in ends:
        expected[e - 9 : e + 1] = True
    np.testing.assert_array_equal(covered_rows(view), expected)


def test_scaler_uses_only_rows_inside_training_windows():
    values = np.arange(100, dtype=np.float32)[:, None] * np.ones((1, 2), dtype=np.float32)
    view = WindowView(values, np.array([9, 19]), 10, np.array([1, 2], dtype=np.int64), ("a", "b"))
    scaler = FeatureScaler.fit(view)
    np.testing.assert_allclose(scaler.mean[0], [9.5, 9.5])
    np.testing.assert_allclose(scaler.std[0], np.arange(20).std(), rtol=1e-6)
    batch = scaler.transform(view.take(np.array([0, 1])))
    np.testing.assert_allclose(batch.reshape(-1, 2).mean(axis=0), 0.0, atol=1e-5)


def test_chunked_statistics_match_numpy_on_the_covered_rows():
    rng = np.random.default_rng(1)
    values = (rng.normal(size=(500, 3)) * [1.0, 100.0, 1e-3] + [5.0, -2.0, 1e4]).astype(np.float32)
    ends = np.sort(rng.choice(np.arange(19, 500), size=30, replace=False))
    view = WindowView(values, ends, 20, ends.astype(np.int64), ("a", "b", "c"))
    rows = values[covered_rows(view)].astype(np.float64)
    mean, std = _covered_mean_std(view, chunk=7)
    np.testing.assert_allclose(mean, rows.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(std, rows.std(axis=0), rtol=1e-10)


def test_perturbing_rows_after_the_training_windows_changes_nothing_fitted():
    """Leakage guard: the fitted model depends only on rows its training windows cover."""
    data = planted_dataset(300, 5)
    train = data.subset(np.arange(200))
    params = small_params("nbeats", epochs=2)
    base = get_model_class("nbeats")(params, seed=1).fit(train)
    future = data.x.values.copy()
    future[200 * SEQ_LEN :] = 1e6  # every row after the last training window
    x_future = WindowView(future, train.x.ends, SEQ_LEN, train.x.timestamps, train.x.feature_names)
    moved = get_model_class("nbeats")(params, seed=1).fit(Dataset(x_future, train.y))
    np.testing.assert_array_equal(moved.scaler_.mean, base.scaler_.mean)
    np.testing.assert_array_equal(moved.predict_proba(x_future), base.predict_proba(train.x))


def test_balanced_class_factors_match_sklearn_and_weight_classes_equally():
    y = np.array([0, 0, 0, 0, 1, 2, 2, 0, 1, 0])
    np.testing.assert_allclose(
        balanced_class_factors(y, np.ones(len(y))),
        compute_class_weight("balanced", classes=np.arange(3), y=y),
    )
    w = np.random.default_rng(0).random(len(y))
    f = balanced_class_factors(y, w)
    totals = np.bincount(y, weights=w * f[y], minlength=3)
    np.testing.assert_allclose(totals, totals[0])
    assert balanced_class_factors(np.array([0, 2, 2]), np.ones(3))[1] == 0.0


@pytest.mark.parametrize("n, size", [(1, 4), (10, 4), (9, 4), (257, 256), (5, 100)])
def test_index_batches_cover_every_index_once_without_single_window_batches(n, size):
    batches = index_batches(n, size, np.random.default_rng(0))
    np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(n))
    assert max(len(b) for b in batches) <= size
    assert n == 1 or min(len(b) for b in batches) >= 2


def test_early_stopping_restores_the_best_epoch_weights():
    train, val = planted_dataset(300, 1), planted_dataset(100, 2)
    model = get_model_class("lstm")(small_params("lstm", epochs=25, patience=2, lr=0.05), seed=0).fit(
        train, val
    )
    h = model.history_
    best = int(np.argmin(h["val_loss"]))
    assert h["best_epoch"] == best + 1
    assert h["stopped"] == "early_stopping" and h["epochs_run"] == best + 1 + 2
    vcodes = (val.y + 1).astype(np.int64)
    factors = balanced_class_factors((train.y + 1).astype(np.int64), np.ones(len(train)))
    batches = Batches(val.x, model.scaler_, vcodes, factors[vcodes].astype(np.float32))
    with torch.inference_mode():
        restored = weighted_loss(model.module_, batches, torch.device("cpu"), 64, amp=False)
    assert restored == pytest.approx(h["val_loss"][best], rel=1e-5)


def test_cuda_request_without_a_gpu_is_a_config_error():
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    with pytest.raises(ConfigError, match="device"):
        resolve_device("cuda")
    assert resolve_device("auto").type == "cpu"


@pytest.mark.parametrize(
    "name, values, key",
    [
        ("lstm", {"hiden": 3}, "hiden"),
        ("lstm", {"dropout": 1.5}, "dropout"),
        ("patchtst", {"seq_len": 4, "patch_len": 8}, "patch_len"),
        ("transformer", {"d_model": 30, "heads": 4}, "heads"),
        ("tcn", {"device": "tpu"}, "device"),
    ],
)
def test_bad_parameters_name_the_key(name, values, key):
    with pytest.raises(ConfigError, match=key):
        get_model_class(name)(values)


@pytest.mark.parametrize("name", SEQUENCE_MODELS)
def test_shipped_yaml_config_validates(name):
    config = load_model_config(name)
    cls = get_model_class(name)
    assert config.feature_set == cls.default_feature_set
    assert config.timeframe == cls.default_timeframe
    assert isinstance(config.params, cls.Params)
    assert (config.mtf_strategy, config.mtf_timeframes) == (
        cls.default_mtf_strategy,
        cls.default_mtf_timeframes,
    )


def test_a_window_with_nan_is_refused_at_predict():
    model = get_model_class("lstm")(small_params("lstm", epochs=1), seed=0).fit(planted_dataset(100, 1))
    x = planted_dataset(5, 2).x
    values = x.values.copy()
    values[x.ends[3], 1] = np.nan
    bad = WindowView(values, x.ends, x.seq_len, x.timestamps, x.feature_names)
    with pytest.raises(DataError, match=str(int(x.timestamps[3]))):
        model.predict_proba(bad)
