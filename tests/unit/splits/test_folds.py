"""Purge/embargo on a hand-checked example, inner validation slices and the timestamp form of folds."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mlfactory.errors import ConfigError, DataError
from mlfactory.splits.folds import (
    Fold,
    folds_from_json,
    folds_to_json,
    index_runs,
    inner_validation_split,
    purge_and_embargo,
)
from mlfactory.splits.purged_kfold import purged_kfold

MIN = 60_000_000_000
T0 = 28_000_000 * MIN


def bars(n=100, horizon=3):
    ts = T0 + np.arange(n, dtype=np.int64) * 5 * MIN
    return ts, ts + horizon * 5 * MIN


def test_purge_and_embargo_hand_checked():
    ts, t1 = bars()
    train = np.r_[np.arange(0, 40), np.arange(60, 100)]
    kept, n_purged, n_embargoed = purge_and_embargo(train, [(40, 60)], ts, t1, embargo_ns=10 * MIN)
    # 37-39 reach ts[40]; the test span ends at t1[59] = ts[62], so 60-62 overlap; 63-64 are embargoed
    assert kept.tolist() == [*range(37), *range(65, 100)]
    assert (n_purged, n_embargoed) == (6, 2)


def test_index_runs():
    assert index_runs(np.array([1, 2, 3, 7, 9, 10])) == [(1, 4), (7, 8), (9, 11)]
    assert index_runs(np.array([], dtype=np.int64)) == []


def test_inner_validation_slice_is_the_latest_rows_and_purged():
    ts, t1 = bars()
    train = np.r_[np.arange(0, 40), np.arange(60, 100)]
    inner_train, inner_val = inner_validation_split(train, ts, t1, frac=0.25, embargo_ns=0)
    assert inner_val.tolist() == list(range(80, 100))
    assert inner_train.tolist() == [*range(40), *range(60, 77)]  # 77-79 reach ts[80]
    with pytest.raises(ConfigError, match="frac"):
        inner_validation_split(train, ts, t1, frac=1.0, embargo_ns=0)
    with pytest.raises(DataError, match="validation slice"):
        inner_validation_split(np.array([5]), ts, t1, frac=0.5, embargo_ns=0)


def test_folds_round_trip_through_json_and_onto_another_models_rows():
    ts, t1 = bars()
    folds = purged_kfold(ts, t1, n_splits=4, embargo_ns=5 * MIN)
    record = json.loads(json.dumps(folds_to_json(folds, ts)))
    back = folds_from_json(record, ts)
    for a, b in zip(folds, back, strict=True):
        assert (a.fold_id, a.n_purged, a.n_embargoed) == (b.fold_id, b.n_purged, b.n_embargoed)
        np.testing.assert_array_equal(a.train_idx, b.train_idx)
        np.testing.assert_array_equal(a.test_idx, b.test_idx)
    # a model that can only predict from row 10 on (warm-up) gets the same timestamps
    sub = ts[10:]
    for a, b in zip(folds, folds_from_json(record, sub), strict=True):
        np.testing.assert_array_equal(sub[b.train_idx], ts[a.train_idx[a.train_idx >= 10]])
        np.testing.assert_array_equal(sub[b.test_idx], ts[a.test_idx[a.test_idx >= 10]])
    with pytest.raises(DataError, match="malformed fold record"):
        folds_from_json([{"train": []}], ts)


def test_fold_holds_sorted_indices():
    f = purged_kfold(*bars(), n_splits=3, embargo_ns=0)[1]
    assert isinstance(f, Fold)
    assert np.all(np.diff(f.train_idx) > 0) and np.all(np.diff(f.test_idx) == 1)
