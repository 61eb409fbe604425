"""Walk-forward splits: train on the past only, test on the next block (expanding or rolling window)."""

from __future__ import annotations

from typing import Literal

import numpy as np

from mlfactory.errors import ConfigError
from mlfactory.splits.folds import Fold, check_embargo, check_windows, contiguous_groups, make_fold


def walk_forward(
    ts: np.ndarray,
    t1: np.ndarray,
    n_splits: int,
    *,
    mode: Literal["expanding", "rolling"],
    embargo_ns: int,
    train_blocks: int | None = None,
) -> list[Fold]:
    """Rows cut into ``n_splits + 1`` contiguous blocks; fold ``f`` tests block ``f + 1``.

    ``expanding``: train on blocks ``0 .. f``. ``rolling``: train on the last ``train_blocks``
    blocks before the test block. Training rows whose label window reaches the test block are
    purged; the embargo (after a test block) only matters when training rows follow it, which
    walk-forward never has, but it is applied the same way as in every other splitter.
    """
    ts, t1 = check_windows(ts, t1)
    embargo_ns = check_embargo(embargo_ns)
    if mode not in ("expanding", "rolling"):
        raise ConfigError(f"mode: expected 'expanding' or 'rolling', got {mode!r}")
    if mode == "rolling":
        if isinstance(train_blocks, bool) or not isinstance(train_blocks, int) or train_blocks < 1:
            raise ConfigError(
                f"train_blocks: rolling walk-forward needs an integer >= 1, got {train_blocks!r}"
            )
    elif train_blocks is not None:
        raise ConfigError("train_blocks: only used with mode='rolling'; leave it unset for 'expanding'")
    if isinstance(n_splits, bool) or not isinstance(n_splits, int) or n_splits < 1:
        raise ConfigError(f"n_splits: expected an integer >= 1, got {n_splits!r}")
    blocks = contiguous_groups(ts.size, n_splits + 1, "n_splits")
    folds = []
    for f in range(n_splits):
        first = 0 if mode == "expanding" else max(0, f + 1 - train_blocks)
        candidates = np.arange(blocks[first][0], blocks[f][1], dtype=np.int64)
        folds.append(make_fold(f, [blocks[f + 1]], ts, t1, embargo_ns, candidates))
    return folds
