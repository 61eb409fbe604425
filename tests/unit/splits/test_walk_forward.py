"""Walk-forward: expanding and rolling training windows, purged before each test block."""

from __future__ import annotations

import numpy as np
import pytest

from mlfactory.errors import ConfigError
from mlfactory.splits.walk_forward import walk_forward

MIN = 60_000_000_000
T0 = 28_000_000 * MIN


def bars(n=100):
    ts = T0 + np.arange(n, dtype=np.int64) * 5 * MIN
    return ts, ts + 2 * 5 * MIN


def test_expanding():
    folds = walk_forward(*bars(), 4, mode="expanding", embargo_ns=0)
    assert [f.test_idx[[0, -1]].tolist() for f in folds] == [[20, 39], [40, 59], [60, 79], [80, 99]]
    assert [f.train_idx.tolist() for f in folds] == [list(range(0, a - 2)) for a in (20, 40, 60, 80)]


def test_rolling():
    folds = walk_forward(*bars(), 4, mode="rolling", train_blocks=2, embargo_ns=0)
    assert [f.train_idx.tolist() for f in folds] == [
        list(range(0, 18)),
        list(range(0, 38)),
        list(range(20, 58)),
        list(range(40, 78)),
    ]


def test_bad_arguments():
    ts, t1 = bars()
    with pytest.raises(ConfigError, match="train_blocks"):
        walk_forward(ts, t1, 3, mode="rolling", embargo_ns=0)
    with pytest.raises(ConfigError, match="train_blocks"):
        walk_forward(ts, t1, 3, mode="expanding", train_blocks=2, embargo_ns=0)
    with pytest.raises(ConfigError, match="mode"):
        walk_forward(ts, t1, 3, mode="sliding", embargo_ns=0)  # type: ignore[arg-type]
