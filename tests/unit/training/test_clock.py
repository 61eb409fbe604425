"""The decision clock and the CV plan: built once from labels, indexed by timestamp, written as intervals."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from mlfactory.errors import ConfigError, DataError
from mlfactory.training.clock import DecisionClock
from mlfactory.training.cv_plan import CVPlan

MIN = 60_000_000_000


def _labels(n: int = 200) -> pl.DataFrame:
    ts = 1_700_000_000 * 1_000_000_000 + np.arange(n, dtype=np.int64) * 5 * MIN
    split = np.where(np.arange(n) < 140, "train", np.where(np.arange(n) < 170, "val", "test"))
    rng = np.random.default_rng(0)
    return pl.DataFrame(
        {
            "timestamp": pl.Series(ts).cast(pl.Datetime("ns", "UTC")),
            "label": rng.integers(-1, 2, n).astype(np.int8),
            "t1": pl.Series(ts + 15 * MIN).cast(pl.Datetime("ns", "UTC")),
            "ret": rng.normal(size=n),
            "weight": rng.uniform(0.5, 1.5, n),
            "split": split,
        }
    )


def test_clock_from_labels_keeps_every_column_aligned():
    labels = _labels()
    clock = DecisionClock.from_labels(labels, 10)
    assert len(clock) == labels.height and clock.horizon == 10
    train = clock.restrict("train")
    assert len(train) == 140 and set(train.split) == {"train"}
    np.testing.assert_array_equal(train.y, labels["label"].to_numpy()[:140])
    np.testing.assert_array_equal(train.weight, labels["weight"].to_numpy()[:140])
    rows = clock.rows_of(clock.ts[[5, 150]])
    np.testing.assert_array_equal(rows, [5, 150])
    with pytest.raises(DataError, match="not on the decision clock"):
        clock.rows_of(clock.ts[:2] + 1)


def test_clock_refuses_unsorted_or_misaligned_arrays():
    clock = DecisionClock.from_labels(_labels(), 10)
    with pytest.raises(DataError, match="strictly increasing"):
        DecisionClock.from_arrays(clock.ts[::-1], clock.t1[::-1])
    with pytest.raises(DataError, match="shape"):
        DecisionClock(clock.ts, clock.t1[:-1], clock.y, clock.weight, clock.ret, clock.split, 10)


@pytest.mark.parametrize("method", ["purged", "walk-forward", "cpcv"])
def test_plan_folds_index_the_training_clock_and_round_trip_as_timestamps(method, tmp_path):
    train = DecisionClock.from_labels(_labels(), 10).restrict("train")
    plan = CVPlan.build(train, 3 * 5 * MIN, method=method, n_splits=4)
    assert plan.name == f"{method}_k4_h10"
    for fold in plan.folds:
        assert fold.test_idx.max() < len(train) and np.intersect1d(fold.train_idx, fold.test_idx).size == 0
        # purged: no training label window overlaps any contiguous test span
        for run in np.split(fold.test_idx, np.flatnonzero(np.diff(fold.test_idx) > 1) + 1):
            lo, hi = train.ts[run].min(), train.t1[run].max()
            overlap = (train.ts[fold.train_idx] <= hi) & (train.t1[fold.train_idx] >= lo)
            assert not overlap.any()
    written = json.loads(plan.write(tmp_path).read_text())
    assert written["method"] == method and len(written["folds"]) == len(plan.folds)


def test_plan_needs_folds_and_a_known_method():
    train = DecisionClock.from_labels(_labels(), 10).restrict("train")
    with pytest.raises(ConfigError, match="--method"):
        CVPlan.build(train, 0, method="shuffled")
    with pytest.raises(ConfigError, match="no folds"):
        CVPlan.from_folds(train.ts, train.t1, [])
