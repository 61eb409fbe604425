"""The model protocol, checked for every registered sequence model (counted from the registry)."""

from __future__ import annotations

import json
from functools import cache

import numpy as np
import pytest
import torch
from sequence_synth import (
    MULTISTREAM_MODELS,
    SEQ_LEN,
    SEQUENCE_MODELS,
    block_view,
    log_loss,
    planted_dataset,
    planted_values,
    small_params,
)

from mlfactory.adapters.views import MultiStreamView
from mlfactory.errors import ArtifactError, DataError
from mlfactory.models.base import Dataset, Family, InputKind, MtfStrategy
from mlfactory.models.registry import get_model_class

FAMILIES = {
    "lstm": Family.NEURAL,
    "gru": Family.NEURAL,
    "tcn": Family.NEURAL,
    "transformer": Family.NEURAL,
    "patchtst": Family.TRANSFORMER,
    "itransformer": Family.TRANSFORMER,
    "tft": Family.TRANSFORMER,
    "nbeats": Family.MLP,
    "inceptiontime": Family.CNN,
    "resnet1d": Family.CNN,
}


def test_the_ten_sequence_models_are_registered_with_their_families():
    assert set(SEQUENCE_MODELS) == set(FAMILIES)
    for name, family in FAMILIES.items():
        assert get_model_class(name).family == family, name


def test_routing_defaults_follow_the_issue_table():
    for name in ("lstm", "gru", "tcn"):
        cls = get_model_class(name)
        assert (cls.default_timeframe, cls.default_mtf_strategy) == ("5m", MtfStrategy.SINGLE_TF)
    patchtst = get_model_class("patchtst")
    assert patchtst.input_kind == InputKind.MULTISTREAM
    assert (patchtst.default_timeframe, patchtst.default_mtf_timeframes) == ("1m", ("5m", "15m"))
    assert patchtst.default_mtf_strategy == MtfStrategy.MTF_INGESTION
    assert patchtst.default_feature_set == get_model_class("itransformer").default_feature_set == "raw_ohlcv"
    tft = get_model_class("tft")
    assert (tft.default_feature_set, tft.default_mtf_strategy) == (
        "engineered_mtf",
        MtfStrategy.MTF_INDICATORS,
    )


@cache
def _data() -> tuple[Dataset, Dataset, Dataset]:
    return planted_dataset(600, 1), planted_dataset(150, 2), planted_dataset(300, 3)


@cache
def _fitted(name: str):
    train, val, _ = _data()
    return get_model_class(name)(small_params(name), seed=0).fit(train, val)


@pytest.mark.parametrize("name", SEQUENCE_MODELS)
@pytest.mark.parametrize("n", [1, 7])
def test_predict_proba_is_n_by_3_and_sums_to_one(name, n):
    p = _fitted(name).predict_proba(_data()[2].x.subset(np.arange(n)))
    assert p.shape == (n, 3)
    assert (p >= 0).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-9)


@pytest.mark.parametrize("name", SEQUENCE_MODELS)
def test_planted_pattern_beats_prior_baseline_log_loss(name):
    train, _, test = _data()
    prior = np.bincount(train.y + 1, minlength=3) / len(train)
    baseline = log_loss(np.tile(prior, (len(test), 1)), test.y)
    model_ll = log_loss(_fitted(name).predict_proba(test.x), test.y)
    assert model_ll < baseline - 0.3, (name, model_ll, baseline)


@pytest.mark.parametrize("name", SEQUENCE_MODELS)
def test_a_window_is_predicted_alone(name):
    """Eval mode: a window's probabilities do not depend on which other windows share its batch."""
    x = _data()[2].x
    full = _fitted(name).predict_proba(x)
    idx = np.array([5, 0, 77, 3])
    np.testing.assert_allclose(_fitted(name).predict_proba(x.subset(idx)), full[idx], atol=1e-5)


@pytest.mark.parametrize("name", SEQUENCE_MODELS)
def test_save_load_round_trip_gives_identical_predictions(name, tmp_path):
    model = _fitted(name)
    model.save(tmp_path)
    loaded = get_model_class(name).load(tmp_path)
    x = _data()[2].x
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))
    assert loaded.get_params() == model.get_params()
    assert (loaded.seed, loaded.history_) == (model.seed, model.history_)


@pytest.mark.parametrize("name", SEQUENCE_MODELS)
def test_tampered_weights_fail_load(name, tmp_path):
    _fitted(name).save(tmp_path)
    weights = tmp_path / "weights.safetensors"
    data = bytearray(weights.read_bytes())
    data[-3] ^= 0x01
    weights.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match=r"weights\.safetensors"):
        get_model_class(name).load(tmp_path)


def test_tampered_scaler_statistics_fail_load(tmp_path):
    _fitted("lstm").save(tmp_path)
    meta = json.loads((tmp_path / "meta.json").read_text())
    meta["scaler_mean"][0][0] += 1.0
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match=r"meta\.json"):
        get_model_class("lstm").load(tmp_path)


def test_loading_into_another_model_class_fails(tmp_path):
    _fitted("gru").save(tmp_path)
    with pytest.raises(ArtifactError, match="gru"):
        get_model_class("lstm").load(tmp_path)


@pytest.mark.parametrize("name", MULTISTREAM_MODELS)
def test_multistream_model_learns_a_pattern_in_one_stream_and_round_trips(name, tmp_path):
    train, test = planted_dataset(600, 1, streams=3), planted_dataset(300, 3, streams=3)
    model = get_model_class(name)(small_params(name), seed=0).fit(train)
    p = model.predict_proba(test.x)
    assert p.shape == (300, 3)
    prior = np.bincount(train.y + 1, minlength=3) / len(train)
    assert log_loss(p, test.y) < log_loss(np.tile(prior, (300, 1)), test.y) - 0.3
    model.save(tmp_path)
    np.testing.assert_array_equal(get_model_class(name).load(tmp_path).predict_proba(test.x), p)
    streams = test.x.streams
    with pytest.raises(
        DataError, match="streams"
    ):  # a different stream set is not the model it was fitted on
        model.predict_proba(MultiStreamView(streams[:2], ("s0", "s1")))


@pytest.mark.parametrize("name", ["lstm", "patchtst", "resnet1d", "tft"])
def test_fit_is_reproducible_and_leaves_global_torch_state_alone(name):
    train, val, test = _data()
    rng_state, threads = torch.get_rng_state(), torch.get_num_threads()
    fits = [get_model_class(name)(small_params(name, epochs=2), seed=4).fit(train, val) for _ in range(2)]
    np.testing.assert_array_equal(fits[0].predict_proba(test.x), fits[1].predict_proba(test.x))
    assert torch.equal(torch.get_rng_state(), rng_state)
    assert torch.get_num_threads() == threads
    other = get_model_class(name)(small_params(name, epochs=2), seed=5).fit(train, val)
    assert not np.array_equal(other.predict_proba(test.x), fits[0].predict_proba(test.x))


def test_class_absent_from_training_gets_probability_zero():
    train, _, test = _data()
    keep = np.flatnonzero(train.y != 0)
    model = get_model_class("nbeats")(small_params("nbeats", epochs=2), seed=0).fit(train.subset(keep))
    p = model.predict_proba(test.x)
    assert model.classes_.tolist() == [-1, 1]
    assert (p[:, 1] == 0).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0)


def test_sample_weights_reach_the_loss():
    """Rows with reversed labels hurt an unweighted fit; weighting them ~0 restores the pattern."""
    train, val, test = _data()
    rng = np.random.default_rng(0)
    corrupt = rng.random(len(train)) < 0.45
    y = np.where(corrupt, -train.y, train.y).astype(np.int8)
    w = np.where(corrupt, 1e-6, 1.0)
    params = small_params("lstm")
    unweighted = get_model_class("lstm")(params, seed=0).fit(Dataset(train.x, y), val)
    weighted = get_model_class("lstm")(params, seed=0).fit(Dataset(train.x, y, w), val)
    assert (
        log_loss(weighted.predict_proba(test.x), test.y)
        < log_loss(unweighted.predict_proba(test.x), test.y) - 0.2
    )


def test_inputs_that_do_not_match_the_fit_are_refused():
    model = _fitted("tcn")
    _, _, test = _data()
    with pytest.raises(DataError, match="seq_len"):
        model.predict_proba(
            block_view(planted_values(np.zeros(4), 0, seq_len=SEQ_LEN * 2), 4, seq_len=SEQ_LEN * 2)
        )
    with pytest.raises(DataError, match="features"):
        model.predict_proba(block_view(planted_values(np.zeros(4), 0, n_features=3), 4))
    with pytest.raises(DataError, match="3D"):
        model.predict_proba(planted_dataset(4, 0, streams=2).x)
    with pytest.raises(DataError, match="not fitted"):
        get_model_class("tcn")(small_params("tcn")).predict_proba(test.x)
    assert model.predict_proba(test.x.subset(np.arange(0))).shape == (0, 3)


def test_without_val_the_last_part_of_train_in_time_early_stops():
    train, _, _ = _data()
    model = get_model_class("nbeats")(small_params("nbeats", epochs=3, val_fraction=0.2), seed=0)
    first, tail = model._carve_val(train.subset(np.arange(len(train))[::-1]))
    assert len(tail) == 120
    assert tail.timestamps.min() > first.timestamps.max()
    model.fit(train)
    assert len(model.history_["val_loss"]) == model.history_["epochs_run"]
    no_val = get_model_class("nbeats")(small_params("nbeats", epochs=3, val_fraction=0.0), seed=0).fit(train)
    assert no_val.history_["val_loss"] == [] and no_val.history_["epochs_run"] == 3
