"""Boundary checks for timestamp and label-window arrays (shared by labels and splits)."""

from __future__ import annotations

import numpy as np
from numba import njit

from mlfactory.errors import DataError


@njit(cache=True)
def _first_decrease(a, strict):
    for i in range(1, a.shape[0]):
        if a[i] < a[i - 1] or (strict and a[i] == a[i - 1]):
            return i
    return -1


def as_timestamps(a: np.ndarray, name: str, *, strictly_increasing: bool = True) -> np.ndarray:
    """``a`` as a contiguous 1-D int64 ns array (datetime64 accepted), checked to be sorted."""
    a = np.asarray(a)
    if np.issubdtype(a.dtype, np.datetime64):
        a = a.astype("datetime64[ns]").view(np.int64)
    if a.dtype != np.int64:
        raise DataError(f"{name}: expected int64 nanoseconds since epoch (UTC), got dtype {a.dtype}")
    if a.ndim != 1:
        raise DataError(f"{name}: expected a 1-D array, got shape {a.shape}")
    a = np.ascontiguousarray(a)
    bad = _first_decrease(a, strictly_increasing)
    if bad >= 0:
        order = "strictly increasing" if strictly_increasing else "sorted ascending"
        raise DataError(
            f"{name}: timestamps must be {order}; row {bad} ({a[bad]}) follows row {bad - 1} ({a[bad - 1]}). "
            "Sort (and de-duplicate) them first"
        )
    return a


def as_label_windows(
    ts: np.ndarray, t1: np.ndarray, *, t1_after_ts: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Check event start times ``ts`` (strictly increasing) and label ends ``t1`` (``t1 >= ts``).

    With ``t1_after_ts`` the windows must be non-empty (``t1 > ts``): invalid triple-barrier rows
    (``valid == False``, ``t1 == ts``) have to be dropped first.
    """
    ts = as_timestamps(ts, "ts")
    t1 = _as_int64(t1, "t1")
    if t1.shape != ts.shape:
        raise DataError(f"t1: expected shape {ts.shape} to match ts, got {t1.shape}")
    bad = np.flatnonzero(t1 <= ts) if t1_after_ts else np.flatnonzero(t1 < ts)
    if bad.size:
        i = int(bad[0])
        rule = "t1 > ts (non-empty label window)" if t1_after_ts else "t1 >= ts"
        hint = "; drop invalid label rows (valid == False) first" if t1_after_ts else ""
        raise DataError(f"t1: row {i} has t1={t1[i]} and ts={ts[i]}, but every row needs {rule}{hint}")
    return ts, t1


def _as_int64(a: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(a)
    if np.issubdtype(a.dtype, np.datetime64):
        a = a.astype("datetime64[ns]").view(np.int64)
    if a.dtype != np.int64 or a.ndim != 1:
        raise DataError(
            f"{name}: expected a 1-D int64 nanosecond array, got dtype {a.dtype}, shape {a.shape}"
        )
    return np.ascontiguousarray(a)
