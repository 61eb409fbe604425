"""Folds, purging and embargo shared by PurgedKFold, walk-forward and CPCV (AFML ch. 7).

Rows are decision times ``ts`` (strictly increasing) with label windows ``[ts, t1]``. A test block
is a contiguous run of rows ``[a, b)``; its span is ``[ts[a], max(t1[a:b])]``.

- **Purge**: a training row is removed when its window overlaps a test block's span
  (``t1 >= span_start`` and ``ts <= span_end``); its label would be built from prices the test
  block is scored on.
- **Embargo**: a training row is removed when it starts within ``embargo_ns`` after a span's end
  (``span_end < ts <= span_end + embargo_ns``): its features still carry the serial correlation
  of the test period.

Folds are stored by timestamp (``folds_to_json``): each fold's train and test rows as inclusive
``[start_ns, end_ns]`` intervals of consecutive rows, so every model, whatever its row positions,
gets the same split on the shared decision clock (``folds_from_json``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mlfactory.errors import ConfigError, DataError
from mlfactory.labels._validation import as_label_windows, as_timestamps


@dataclass(frozen=True)
class Fold:
    """One split: row indices (into the ``ts`` it was built on) to train on and to predict."""

    fold_id: int
    train_idx: np.ndarray  # int64, sorted
    test_idx: np.ndarray  # int64, sorted
    n_purged: int = 0
    n_embargoed: int = 0


def check_embargo(embargo_ns: int) -> int:
    if isinstance(embargo_ns, bool) or not isinstance(embargo_ns, int | np.integer) or embargo_ns < 0:
        raise ConfigError(f"embargo_ns: expected an integer >= 0 (nanoseconds), got {embargo_ns!r}")
    return int(embargo_ns)


def check_windows(ts: np.ndarray, t1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``ts`` (strictly increasing int64 ns) and ``t1 >= ts``."""
    return as_label_windows(ts, t1)


def contiguous_groups(n_rows: int, n_groups: int, name: str = "n_splits") -> list[tuple[int, int]]:
    """``n_groups`` contiguous ``[a, b)`` row ranges of (nearly) equal size, in time order."""
    if isinstance(n_groups, bool) or not isinstance(n_groups, int | np.integer) or n_groups < 2:
        raise ConfigError(f"{name}: expected an integer >= 2, got {n_groups!r}")
    if n_rows < n_groups:
        raise DataError(f"{name}: {n_groups} groups need at least {n_groups} rows, got {n_rows}")
    edges = np.linspace(0, n_rows, n_groups + 1).astype(np.int64)
    return [(int(edges[g]), int(edges[g + 1])) for g in range(n_groups)]


def block_spans(blocks: Sequence[tuple[int, int]], ts: np.ndarray, t1: np.ndarray) -> list[tuple[int, int]]:
    """``[ts[a], max(t1[a:b])]`` for each row block ``[a, b)``."""
    return [(int(ts[a]), int(t1[a:b].max())) for a, b in blocks]


def purge_and_embargo(
    train_idx: np.ndarray,
    test_blocks: Sequence[tuple[int, int]],
    ts: np.ndarray,
    t1: np.ndarray,
    embargo_ns: int,
) -> tuple[np.ndarray, int, int]:
    """Drop training rows overlapping any test block's span, or within the embargo after it.

    Returns the kept training indices, the number purged and the number embargoed (a row both
    overlapping one block and embargoed by another counts as purged).
    """
    train_idx = np.asarray(train_idx, dtype=np.int64)
    tr_ts, tr_t1 = ts[train_idx], t1[train_idx]
    purged = np.zeros(train_idx.size, dtype=bool)
    embargoed = np.zeros(train_idx.size, dtype=bool)
    for start, end in block_spans(test_blocks, ts, t1):
        purged |= (tr_t1 >= start) & (tr_ts <= end)
        embargoed |= (tr_ts > end) & (tr_ts <= end + embargo_ns)
    embargoed &= ~purged
    keep = ~(purged | embargoed)
    return train_idx[keep], int(purged.sum()), int(embargoed.sum())


def index_runs(idx: np.ndarray) -> list[tuple[int, int]]:
    """Runs of consecutive integers in sorted ``idx`` as ``[a, b)`` ranges."""
    idx = np.asarray(idx, dtype=np.int64)
    if idx.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) != 1) + 1
    starts = np.concatenate(([0], breaks))
    ends = np.concatenate((breaks, [idx.size]))
    return [(int(idx[s]), int(idx[e - 1]) + 1) for s, e in zip(starts, ends, strict=True)]


def make_fold(
    fold_id: int,
    test_blocks: Sequence[tuple[int, int]],
    ts: np.ndarray,
    t1: np.ndarray,
    embargo_ns: int,
    candidates: np.ndarray | None = None,
) -> Fold:
    """Test = the union of ``test_blocks``; train = ``candidates`` (default: all other rows), purged."""
    test_idx = np.concatenate([np.arange(a, b, dtype=np.int64) for a, b in test_blocks])
    if candidates is None:
        in_test = np.zeros(ts.size, dtype=bool)
        in_test[test_idx] = True
        candidates = np.flatnonzero(~in_test)
    train_idx, n_purged, n_embargoed = purge_and_embargo(candidates, test_blocks, ts, t1, embargo_ns)
    return Fold(int(fold_id), train_idx, np.sort(test_idx), n_purged, n_embargoed)


def inner_validation_split(
    train_idx: np.ndarray, ts: np.ndarray, t1: np.ndarray, frac: float, embargo_ns: int
) -> tuple[np.ndarray, np.ndarray]:
    """Carve the latest ``frac`` of a fold's training rows as a validation slice (early stopping).

    The remaining training rows are purged against the slice's spans and embargoed after them, so
    nothing inside the fold learns from the rows it is validated on. Returns
    ``(inner_train_idx, inner_val_idx)``.
    """
    ts, t1 = check_windows(ts, t1)
    embargo_ns = check_embargo(embargo_ns)
    if not (0.0 < frac < 1.0):
        raise ConfigError(f"frac: expected a fraction in (0, 1), got {frac!r}")
    train_idx = np.unique(np.asarray(train_idx, dtype=np.int64))
    n_val = int(np.ceil(frac * train_idx.size))
    if n_val < 1 or n_val >= train_idx.size:
        raise DataError(
            f"train_idx: {train_idx.size} training rows cannot give a validation slice of frac={frac} "
            "and keep training rows; use more rows or another frac"
        )
    val_idx = train_idx[-n_val:]
    inner_train, _, _ = purge_and_embargo(train_idx[:-n_val], index_runs(val_idx), ts, t1, embargo_ns)
    if inner_train.size == 0:
        raise DataError("inner_validation_split: purge removed every training row; reduce frac or embargo_ns")
    return inner_train, val_idx


def _intervals(idx: np.ndarray, ts: np.ndarray) -> list[list[int]]:
    return [[int(ts[a]), int(ts[b - 1])] for a, b in index_runs(idx)]


def folds_to_json(folds: Sequence[Fold], ts: np.ndarray) -> list[dict]:
    """Folds as timestamp intervals (inclusive ``[start_ns, end_ns]`` per run of consecutive rows)."""
    return [
        {
            "fold_id": f.fold_id,
            "train": _intervals(f.train_idx, ts),
            "test": _intervals(f.test_idx, ts),
            "n_purged": f.n_purged,
            "n_embargoed": f.n_embargoed,
        }
        for f in folds
    ]


def _rows_in(intervals: list[list[int]], ts: np.ndarray) -> np.ndarray:
    parts = [
        np.arange(np.searchsorted(ts, s, "left"), np.searchsorted(ts, e, "right"), dtype=np.int64)
        for s, e in intervals
    ]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


def folds_from_json(records: Sequence[dict], ts: np.ndarray) -> list[Fold]:
    """Rebuild folds on any decision timestamps ``ts`` (e.g. one model's rows) from ``folds_to_json``."""
    ts = as_timestamps(ts, "ts")
    try:
        return [
            Fold(
                int(r["fold_id"]),
                _rows_in(r["train"], ts),
                _rows_in(r["test"], ts),
                int(r.get("n_purged", 0)),
                int(r.get("n_embargoed", 0)),
            )
            for r in records
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(
            f"folds: malformed fold record ({exc!r}); expected the output of folds_to_json"
        ) from exc
