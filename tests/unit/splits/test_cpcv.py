"""Combinatorial purged CV: split count, per-group purge and backtest paths."""

from __future__ import annotations

from math import comb

import numpy as np
import pytest

from mlfactory.errors import ConfigError
from mlfactory.splits.cpcv import combinatorial_purged_cv, cpcv_paths

MIN = 60_000_000_000
T0 = 28_000_000 * MIN


def test_paths_for_n6_k2():
    cv = combinatorial_purged_cv(*_bars(60), n_groups=6, n_test_groups=2, embargo_ns=0)
    assert len(cv.folds) == comb(6, 2) == 15
    assert cv.n_paths == 5 == 2 * 15 // 6
    # split order is itertools.combinations: (0,1), (0,2), ..., (4,5); path p takes the p-th split testing g
    assert cv.paths[:, 0].tolist() == [0, 1, 2, 3, 4]
    assert cv.paths[:, 1].tolist() == [0, 5, 6, 7, 8]
    assert cv.paths[:, 5].tolist() == [4, 8, 11, 13, 14]
    assert np.bincount(cv.paths.ravel()).tolist() == [2] * 15  # every split fills k = 2 path cells
    assert cv.paths_to_json()["paths"] == cv.paths.tolist()


def _bars(n, horizon=2):
    ts = T0 + np.arange(n, dtype=np.int64) * 5 * MIN
    return ts, ts + horizon * 5 * MIN


def test_each_test_group_is_purged_separately():
    cv = combinatorial_purged_cv(*_bars(60), n_groups=6, n_test_groups=2, embargo_ns=5 * MIN)
    fold = cv.folds[cv.test_groups.index((1, 3))]
    assert fold.test_idx.tolist() == [*range(10, 20), *range(30, 40)]
    # group 2 (rows 20-29) sits between the test groups and is kept, minus purge (20, 21 overlap the
    # span of group 1 ending at t1[19] = ts[21]), embargo (22) and the purge before group 3 (28, 29)
    assert fold.train_idx.tolist() == [*range(8), *range(23, 28), *range(43, 60)]


def test_cpcv_paths_k1_is_plain_kfold():
    assert cpcv_paths(4, [(0,), (1,), (2,), (3,)]).tolist() == [[0, 1, 2, 3]]


def test_bad_arguments():
    with pytest.raises(ConfigError, match="n_test_groups"):
        combinatorial_purged_cv(*_bars(60), n_groups=4, n_test_groups=4, embargo_ns=0)
