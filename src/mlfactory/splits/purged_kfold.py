"""Purged K-fold cross-validation (AFML ch. 7.4): contiguous test folds, purged and embargoed training."""

from __future__ import annotations

import numpy as np

from mlfactory.splits.folds import Fold, check_embargo, check_windows, contiguous_groups, make_fold


def purged_kfold(ts: np.ndarray, t1: np.ndarray, n_splits: int, embargo_ns: int) -> list[Fold]:
    """``n_splits`` folds; fold ``f`` tests the ``f``-th contiguous block of rows in time order.

    Training rows are every other row, minus those whose ``[ts, t1]`` overlaps the test block's
    span and those starting within ``embargo_ns`` after it (see ``mlfactory.splits.folds``).
    """
    ts, t1 = check_windows(ts, t1)
    embargo_ns = check_embargo(embargo_ns)
    groups = contiguous_groups(ts.size, n_splits, "n_splits")
    return [make_fold(f, [block], ts, t1, embargo_ns) for f, block in enumerate(groups)]
