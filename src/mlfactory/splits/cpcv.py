"""Combinatorial purged cross-validation (AFML ch. 12) and its backtest paths.

Rows are cut into ``n_groups`` contiguous groups; every choice of ``n_test_groups`` of them is one
split (``C(N, k)`` splits). Training rows are purged and embargoed against *each* test group
separately, so training groups between two test groups are kept. Each group is tested in
``C(N-1, k-1)`` splits, which yields ``φ = k/N · C(N, k) = C(N-1, k-1)`` backtest paths: path
``p`` takes, for every group, the prediction of the ``p``-th split (in split order) that tests it.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from mlfactory.errors import ConfigError
from mlfactory.splits.folds import Fold, check_embargo, check_windows, contiguous_groups, make_fold


@dataclass(frozen=True)
class CPCVSplits:
    """All ``C(N, k)`` folds, the row range of each group and the path matrix.

    ``paths[p, g]`` is the ``fold_id`` whose test predictions fill group ``g`` in backtest path ``p``.
    """

    folds: list[Fold]
    groups: list[tuple[int, int]]
    test_groups: list[tuple[int, ...]]
    paths: np.ndarray  # int64, shape (n_paths, n_groups)

    @property
    def n_paths(self) -> int:
        return int(self.paths.shape[0])

    def paths_to_json(self) -> dict:
        return {
            "test_groups": [list(g) for g in self.test_groups],
            "paths": self.paths.tolist(),
        }


def cpcv_paths(n_groups: int, test_groups: list[tuple[int, ...]]) -> np.ndarray:
    """Path matrix for splits ``test_groups`` (each a sorted tuple of group ids), in split order."""
    n_paths = sum(1 for g in test_groups if 0 in g)
    paths = np.full((n_paths, n_groups), -1, dtype=np.int64)
    used = np.zeros(n_groups, dtype=np.int64)
    for fold_id, groups in enumerate(test_groups):
        for g in groups:
            paths[used[g], g] = fold_id
            used[g] += 1
    return paths


def combinatorial_purged_cv(
    ts: np.ndarray, t1: np.ndarray, n_groups: int, n_test_groups: int, embargo_ns: int
) -> CPCVSplits:
    """Every split of ``n_test_groups`` test groups out of ``n_groups``, purged per test group."""
    ts, t1 = check_windows(ts, t1)
    embargo_ns = check_embargo(embargo_ns)
    groups = contiguous_groups(ts.size, n_groups, "n_groups")
    if (
        isinstance(n_test_groups, bool)
        or not isinstance(n_test_groups, int)
        or not 1 <= n_test_groups < n_groups
    ):
        raise ConfigError(f"n_test_groups: expected an integer in [1, n_groups - 1], got {n_test_groups!r}")
    test_groups = list(combinations(range(n_groups), n_test_groups))
    folds = [
        make_fold(f, [groups[g] for g in chosen], ts, t1, embargo_ns) for f, chosen in enumerate(test_groups)
    ]
    return CPCVSplits(folds, groups, test_groups, cpcv_paths(n_groups, test_groups))
