"""Chronological train / validation / test split with purge and embargo, stored as timestamps.

Boundaries come from row fractions of the decision timestamps: ``val_start = ts[floor(n·f_train)]``
and ``test_start = ts[floor(n·(f_train + f_val))]``; a row belongs to the split its ``ts`` falls in.

- **Purge**: a training row whose label window ``[ts, t1]`` reaches the validation start
  (``t1 >= val_start``) is removed; likewise a validation row reaching the test start.
- **Embargo**: rows of the later split starting within ``embargo_ns`` after its boundary
  (``boundary <= ts < boundary + embargo_ns``) are removed. The caller derives ``embargo_ns``,
  e.g. from the largest label horizon.

``boundaries`` (JSON-able, for ``RUN/splits.json``) holds the boundaries as ISO-8601 UTC strings
and exact ns integers, the settings and the rows each rule removed; ``apply_split_boundaries``
rebuilds the same masks from it on any decision timestamps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mlfactory.errors import ConfigError, DataError
from mlfactory.splits.folds import check_embargo, check_windows


def ns_to_iso(ns: int) -> str:
    """ISO-8601 UTC string (``...Z``) of an int64 ns timestamp, with sub-second digits only if needed."""
    unit = "s" if ns % 1_000_000_000 == 0 else "ns"
    return str(np.datetime_as_string(np.datetime64(int(ns), "ns"), unit=unit, timezone="UTC"))


@dataclass(frozen=True)
class TrainValTestSplit:
    """Boolean row masks (after purge and embargo) and the JSON-able record of the split."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    boundaries: dict


def _check_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    fr = tuple(float(f) for f in fractions)
    if len(fr) != 3 or not all(f > 0 for f in fr) or abs(sum(fr) - 1.0) > 1e-9:
        raise ConfigError(
            f"fractions: expected three positive numbers (train, val, test) summing to 1, got {fractions!r}"
        )
    return fr  # type: ignore[return-value]


def _segment(mask: np.ndarray, ts: np.ndarray) -> dict:
    rows = np.flatnonzero(mask)
    if rows.size == 0:
        return {"rows": 0, "start": None, "end": None}
    return {"rows": int(rows.size), "start": ns_to_iso(ts[rows[0]]), "end": ns_to_iso(ts[rows[-1]])}


def _masks(ts, t1, val_start: int, test_start: int, embargo_ns: int, fractions) -> TrainValTestSplit:
    in_train = ts < val_start
    in_val = (ts >= val_start) & (ts < test_start)
    in_test = ts >= test_start
    purged_train = in_train & (t1 >= val_start)
    purged_val = in_val & (t1 >= test_start)
    embargoed_val = in_val & ~purged_val & (ts < val_start + embargo_ns)
    embargoed_test = in_test & (ts < test_start + embargo_ns)
    train = in_train & ~purged_train
    val = in_val & ~purged_val & ~embargoed_val
    test = in_test & ~embargoed_test
    for name, mask in (("train", train), ("val", val), ("test", test)):
        if not mask.any():
            raise DataError(
                f"{name}: no rows left after purge and embargo (embargo_ns={embargo_ns}); "
                "use more data, other fractions or a shorter embargo"
            )
    boundaries = {
        "val_start": ns_to_iso(val_start),
        "test_start": ns_to_iso(test_start),
        "val_start_ns": int(val_start),
        "test_start_ns": int(test_start),
        "fractions": list(fractions) if fractions is not None else None,
        "embargo_ns": int(embargo_ns),
        "train": _segment(train, ts),
        "val": _segment(val, ts),
        "test": _segment(test, ts),
        "purged": {"train": int(purged_train.sum()), "val": int(purged_val.sum())},
        "embargoed": {"val": int(embargoed_val.sum()), "test": int(embargoed_test.sum())},
    }
    return TrainValTestSplit(train, val, test, boundaries)


def train_val_test_split(
    ts: np.ndarray,
    t1: np.ndarray,
    *,
    embargo_ns: int,
    fractions: Sequence[float] = (0.70, 0.15, 0.15),
) -> TrainValTestSplit:
    """Split decision rows chronologically by ``fractions``, then purge and embargo (module docstring)."""
    ts, t1 = check_windows(ts, t1)
    embargo_ns = check_embargo(embargo_ns)
    fr = _check_fractions(fractions)
    n = ts.size
    i_val = int(np.floor(n * fr[0]))
    i_test = int(np.floor(n * (fr[0] + fr[1])))
    if not (0 < i_val < i_test < n):
        raise DataError(f"ts: {n} rows are too few to split by fractions {list(fr)}")
    return _masks(ts, t1, int(ts[i_val]), int(ts[i_test]), embargo_ns, fr)


def apply_split_boundaries(ts: np.ndarray, t1: np.ndarray, boundaries: dict) -> TrainValTestSplit:
    """Rebuild the masks from a stored ``boundaries`` record (same boundaries, same embargo)."""
    ts, t1 = check_windows(ts, t1)
    try:
        val_start = int(boundaries["val_start_ns"])
        test_start = int(boundaries["test_start_ns"])
        embargo_ns = check_embargo(int(boundaries["embargo_ns"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(
            f"splits: malformed boundaries record ({exc!r}); expected train_val_test_split output"
        ) from exc
    if val_start >= test_start:
        raise DataError(f"splits: val_start_ns {val_start} must be before test_start_ns {test_start}")
    return _masks(ts, t1, val_start, test_start, embargo_ns, boundaries.get("fractions"))
