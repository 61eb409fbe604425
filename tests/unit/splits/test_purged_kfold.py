"""PurgedKFold on a hand-checked grid."""

from __future__ import annotations

import numpy as np
import pytest

from mlfactory.errors import ConfigError, DataError
from mlfactory.splits.purged_kfold import purged_kfold

MIN = 60_000_000_000
T0 = 28_000_000 * MIN


def test_folds_hand_checked():
    ts = T0 + np.arange(100, dtype=np.int64) * 5 * MIN
    t1 = ts + 3 * 5 * MIN
    folds = purged_kfold(ts, t1, n_splits=5, embargo_ns=10 * MIN)
    assert [f.test_idx.tolist() for f in folds] == [list(range(a, a + 20)) for a in range(0, 100, 20)]
    f = folds[2]
    assert f.train_idx.tolist() == [*range(37), *range(65, 100)]
    assert (f.n_purged, f.n_embargoed) == (6, 2)
    first, last = folds[0], folds[-1]
    assert first.train_idx.tolist() == list(range(25, 100))  # 20-22 purged, 23-24 embargoed
    assert last.train_idx.tolist() == list(range(77))  # nothing after the last fold to embargo


def test_bad_arguments():
    ts = T0 + np.arange(10, dtype=np.int64) * MIN
    with pytest.raises(ConfigError, match="n_splits"):
        purged_kfold(ts, ts, n_splits=1, embargo_ns=0)
    with pytest.raises(DataError, match="n_splits"):
        purged_kfold(ts, ts, n_splits=11, embargo_ns=0)
    with pytest.raises(ConfigError, match="embargo_ns"):
        purged_kfold(ts, ts, n_splits=2, embargo_ns=-5)
