"""Uniqueness, return attribution, time decay and train-only normalisation (AFML ch. 4)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlfactory.errors import ConfigError, DataError
from mlfactory.labels.sample_weights import (
    average_uniqueness,
    num_concurrent_events,
    return_attribution,
    sample_weights,
    time_decay,
)

MIN = 60_000_000_000
T0 = 28_000_000 * MIN
GRID = T0 + np.arange(9, dtype=np.int64) * MIN  # bars 0..8, bar k covers (k-1, k] minutes
CLOSE = np.array([100, 101, 100, 102, 103, 103, 101, 102, 104], dtype=np.float64)
# four overlapping labels (start minute, end minute): A (0, 3], B (1, 4], C (2, 6], D (6, 8]
TS = T0 + np.array([0, 1, 2, 6], dtype=np.int64) * MIN
T1 = T0 + np.array([3, 4, 6, 8], dtype=np.int64) * MIN


def test_concurrency_hand_computed():
    # bar:        0  1  2  3  4  5  6  7  8
    # alive:      -  A  AB ABC BC C C  D  D
    assert num_concurrent_events(TS, T1, GRID).tolist() == [0, 1, 2, 3, 2, 1, 1, 1, 1]


def test_average_uniqueness_hand_computed():
    want = [(1 + 1 / 2 + 1 / 3) / 3, (1 / 2 + 1 / 3 + 1 / 2) / 3, (1 / 3 + 1 / 2 + 1 + 1) / 4, 1.0]
    np.testing.assert_allclose(average_uniqueness(TS, T1, GRID), want, rtol=1e-12)


def test_return_attribution_hand_computed():
    r = np.diff(np.log(CLOSE), prepend=np.nan)
    want = [
        abs(r[1] / 1 + r[2] / 2 + r[3] / 3),
        abs(r[2] / 2 + r[3] / 3 + r[4] / 2),
        abs(r[3] / 3 + r[4] / 2 + r[5] / 1 + r[6] / 1),
        abs(r[7] + r[8]),
    ]
    np.testing.assert_allclose(return_attribution(TS, T1, GRID, CLOSE), want, rtol=1e-12)


def test_a_window_ending_inside_a_coarse_bar_counts_that_bar():
    grid = T0 + np.array([0, 5, 10], dtype=np.int64) * MIN
    ts = T0 + np.array([0, 5], dtype=np.int64) * MIN
    t1 = T0 + np.array([7, 9], dtype=np.int64) * MIN
    assert num_concurrent_events(ts, t1, grid).tolist() == [0, 1, 2]
    np.testing.assert_allclose(average_uniqueness(ts, t1, grid), [(1 + 0.5) / 2, 0.5])


def _slow_uniqueness_and_attribution(ts, t1, grid, close):
    alive = [
        [j for j in range(len(ts)) if grid[k] > ts[j] and (k > 0 and grid[k - 1] < t1[j])]
        for k in range(len(grid))
    ]
    u, w = [], []
    for j in range(len(ts)):
        bars = [k for k in range(len(grid)) if j in alive[k]]
        u.append(sum(1 / len(alive[k]) for k in bars) / len(bars))
        w.append(abs(sum(math.log(close[k] / close[k - 1]) / len(alive[k]) for k in bars)))
    return np.array(u), np.array(w)


def test_matches_a_slow_reference_on_random_windows():
    rng = np.random.default_rng(3)
    grid = T0 + np.cumsum(rng.integers(1, 3, size=300)).astype(np.int64) * MIN
    close = 100 * np.exp(np.cumsum(rng.normal(0, 1e-3, size=grid.size)))
    pick = np.sort(rng.choice(grid.size - 30, size=60, replace=False))
    ts = grid[pick]
    t1 = grid[pick + rng.integers(1, 30, size=pick.size)]
    u, w = _slow_uniqueness_and_attribution(ts, t1, grid, close)
    np.testing.assert_allclose(average_uniqueness(ts, t1, grid), u, rtol=1e-10)
    np.testing.assert_allclose(return_attribution(ts, t1, grid, close), w, rtol=1e-9, atol=1e-15)


def test_time_decay():
    u = np.full(4, 0.5)
    np.testing.assert_allclose(time_decay(u, 1.0), 1.0)
    np.testing.assert_allclose(time_decay(u, 0.0), [0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(time_decay(u, -0.5), [0.0, 0.0, 0.5, 1.0])
    with pytest.raises(ConfigError, match="oldest_weight"):
        time_decay(u, 1.5)


def _train_val_rows(seed):
    rng = np.random.default_rng(seed)
    grid = T0 + np.arange(1, 2001, dtype=np.int64) * MIN
    close = 100 * np.exp(np.cumsum(rng.normal(0, 1e-3, size=grid.size)))
    ts = grid[5:1900:5]
    t1 = ts + rng.integers(1, 40, size=ts.size) * MIN
    boundary = grid[1200]
    train = t1 < boundary  # purged: no training window reaches the validation period
    train &= ts < boundary
    return rng, grid, close, ts, t1, train, boundary


@pytest.mark.parametrize("oldest_weight", [None, 0.25])
def test_weights_have_mean_one_on_train_and_ignore_later_rows(oldest_weight):
    rng, grid, close, ts, t1, train, boundary = _train_val_rows(0)
    w = sample_weights(ts, t1, grid, close, train, oldest_weight)
    assert w[train].mean() == pytest.approx(1.0)
    assert (w > 0).all()
    # perturb everything after the training period: validation windows and prices
    later = ~train
    t1_b = t1.copy()
    t1_b[later] = ts[later] + rng.integers(1, 80, size=later.sum()) * MIN
    t1_b = np.minimum(t1_b, grid[-1])
    close_b = close.copy()
    close_b[grid >= boundary] *= np.exp(rng.normal(0, 0.01, size=(grid >= boundary).sum()))
    w_b = sample_weights(ts, t1_b, grid, close_b, train, oldest_weight)
    np.testing.assert_array_equal(w_b[train], w[train])
    assert not np.allclose(w_b[later], w[later])


def test_time_decay_lowers_older_training_weights():
    _, grid, close, ts, t1, train, _ = _train_val_rows(1)
    plain = sample_weights(ts, t1, grid, close, train)
    decayed = sample_weights(ts, t1, grid, close, train, oldest_weight=0.0)
    ratio = decayed[train] / plain[train]
    assert ratio[0] < 0.05 and ratio[-1] > ratio[0]
    assert np.all(np.diff(ratio) >= -1e-12)


def test_invalid_rows_and_short_grids_are_rejected():
    with pytest.raises(DataError, match="drop invalid label rows"):
        average_uniqueness(TS, TS, GRID)
    with pytest.raises(DataError, match="grid_ts: ends at"):
        average_uniqueness(TS, T1 + 10 * MIN, GRID)
    with pytest.raises(DataError, match="train_mask: no training rows"):
        sample_weights(TS, T1, GRID, CLOSE, np.zeros(4, dtype=bool))
    with pytest.raises(DataError, match="grid_close"):
        sample_weights(TS, T1, GRID, np.r_[CLOSE[:-1], np.nan], np.ones(4, dtype=bool))
