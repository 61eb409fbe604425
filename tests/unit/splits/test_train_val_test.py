"""Chronological split: boundaries, purge and embargo counts, JSON record and re-application."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mlfactory.errors import ConfigError, DataError
from mlfactory.splits.train_val_test import apply_split_boundaries, ns_to_iso, train_val_test_split

MIN = 60_000_000_000
T0 = 1_735_689_600 * 1_000_000_000  # 2025-01-01T00:00:00Z


def grid(n=1000, horizon_bars=4):
    ts = T0 + np.arange(n, dtype=np.int64) * 5 * MIN
    return ts, ts + horizon_bars * 5 * MIN


def test_boundaries_purge_and_embargo_counts():
    ts, t1 = grid()
    split = train_val_test_split(ts, t1, embargo_ns=30 * MIN)
    b = split.boundaries
    assert b["val_start_ns"] == ts[700] and b["test_start_ns"] == ts[850]
    assert b["val_start"] == ns_to_iso(ts[700]) == "2025-01-03T10:20:00Z"
    assert b["purged"] == {"train": 4, "val": 4}  # the last 4 rows of each reach the next split
    assert b["embargoed"] == {"val": 6, "test": 6}  # 30 minutes = 6 five-minute rows
    assert np.flatnonzero(split.train).tolist() == list(range(696))
    assert np.flatnonzero(split.val).tolist() == list(range(706, 846))
    assert np.flatnonzero(split.test).tolist() == list(range(856, 1000))
    assert b["train"] == {"rows": 696, "start": ns_to_iso(ts[0]), "end": ns_to_iso(ts[695])}
    assert json.loads(json.dumps(b)) == b


def test_no_training_window_reaches_val_or_test():
    rng = np.random.default_rng(0)
    ts, _ = grid(2000)
    t1 = ts + rng.integers(0, 120, size=ts.size) * MIN
    split = train_val_test_split(ts, t1, embargo_ns=45 * MIN, fractions=(0.6, 0.2, 0.2))
    v, t = split.boundaries["val_start_ns"], split.boundaries["test_start_ns"]
    assert t1[split.train].max() < v
    assert t1[split.val].max() < t
    assert ts[split.val].min() >= v + 45 * MIN and ts[split.test].min() >= t + 45 * MIN


def test_stored_boundaries_give_the_same_masks_on_a_subset_of_rows():
    ts, t1 = grid()
    split = train_val_test_split(ts, t1, embargo_ns=30 * MIN)
    again = apply_split_boundaries(ts, t1, json.loads(json.dumps(split.boundaries)))
    for name in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(again, name), getattr(split, name))
    rows = np.arange(50, 1000, 3)  # another model's decision rows (a warm-up dropped, a coarser clock)
    sub = apply_split_boundaries(ts[rows], t1[rows], split.boundaries)
    np.testing.assert_array_equal(sub.train, split.train[rows])
    np.testing.assert_array_equal(sub.test, split.test[rows])


def test_sub_second_timestamps_keep_their_digits():
    assert ns_to_iso(T0 + 1) == "2025-01-01T00:00:00.000000001Z"


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"fractions": (0.7, 0.2, 0.2)}, ConfigError, "fractions"),
        ({"fractions": (0.8, 0.2)}, ConfigError, "fractions"),
        ({"embargo_ns": -1}, ConfigError, "embargo_ns"),
        ({"embargo_ns": 10_000 * MIN}, DataError, "no rows left"),
    ],
)
def test_bad_settings_fail_clearly(kwargs, error, match):
    ts, t1 = grid()
    with pytest.raises(error, match=match):
        train_val_test_split(ts, t1, **{"embargo_ns": 0, **kwargs})


def test_bad_windows_fail_clearly():
    ts, t1 = grid(10)
    with pytest.raises(DataError, match="t1: row 3"):
        t1_bad = t1.copy()
        t1_bad[3] = ts[3] - 1
        train_val_test_split(ts, t1_bad, embargo_ns=0)
    with pytest.raises(DataError, match="ts: timestamps must be strictly increasing"):
        train_val_test_split(ts[::-1], t1[::-1], embargo_ns=0)
    with pytest.raises(DataError, match="too few"):
        train_val_test_split(ts[:3], t1[:3], embargo_ns=0)
