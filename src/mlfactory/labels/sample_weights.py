"""Sample weights from label concurrency (AFML ch. 4): uniqueness, return attribution, time decay.

Concurrency is counted on a caller-supplied bar grid ``grid_ts`` (sorted bar-close timestamps;
bar ``k`` covers ``(grid_ts[k-1], grid_ts[k]]``). Pass the **1-minute timestamps**: ``t1`` has
minute resolution and label windows never cross a gap, so on that grid a label's bars are exactly
the minutes of its path. (The decision timestamps also work and give AFML's bar-count version,
but a label that exits inside a decision bar then counts that whole bar.)

Label ``i`` with window ``[ts_i, t1_i]`` is *alive* on bar ``k`` when the two overlap:
``grid_ts[k] > ts_i`` and ``grid_ts[k-1] < t1_i`` (the decision bar that closes at ``ts_i`` is
not part of its outcome). ``c_k`` is the number of labels alive on bar ``k``.

- ``average_uniqueness``: mean of ``1 / c_k`` over the label's bars.
- ``return_attribution``: ``|sum of r_k / c_k|`` over the label's bars, ``r_k`` the log return of
  bar ``k`` (close to close on the grid).
- ``time_decay``: AFML's piecewise-linear decay over cumulative uniqueness (newest row 1).
- ``sample_weights``: uniqueness × attribution (× decay), normalised to mean 1 over training rows;
  every statistic behind a training weight comes from training rows only (see its docstring).
"""

from __future__ import annotations

import numpy as np

from mlfactory.errors import ConfigError, DataError
from mlfactory.labels._validation import as_label_windows, as_timestamps


def _label_bar_ranges(ts: np.ndarray, t1: np.ndarray, grid_ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last grid bar (inclusive) of each label window."""
    if grid_ts.size == 0:
        raise DataError("grid_ts: empty; pass the 1-minute bar timestamps covering every label window")
    if ts.size and t1.max() > grid_ts[-1]:
        i = int(np.argmax(t1))
        raise DataError(
            f"grid_ts: ends at {grid_ts[-1]} but label row {i} runs to t1={t1[i]}; "
            "pass a grid (e.g. the 1-minute timestamps) that covers every label window"
        )
    first = np.searchsorted(grid_ts, ts, side="right")
    last = np.searchsorted(grid_ts, t1, side="left")
    return first, last


def _concurrency(first: np.ndarray, last: np.ndarray, n_grid: int) -> np.ndarray:
    starts = np.bincount(first, minlength=n_grid + 1)
    ends = np.bincount(last + 1, minlength=n_grid + 1)
    return np.cumsum(starts - ends)[:n_grid]


def _inputs(ts, t1, grid_ts) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    ts, t1 = as_label_windows(ts, t1, t1_after_ts=True)
    grid_ts = as_timestamps(grid_ts, "grid_ts")
    first, last = _label_bar_ranges(ts, t1, grid_ts)
    return ts, grid_ts, first, last


def num_concurrent_events(ts: np.ndarray, t1: np.ndarray, grid_ts: np.ndarray) -> np.ndarray:
    """Number of labels alive on each grid bar (int64, aligned with ``grid_ts``)."""
    _, grid_ts, first, last = _inputs(ts, t1, grid_ts)
    return _concurrency(first, last, grid_ts.size)


def _window_sums(values: np.ndarray, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    csum = np.concatenate(([0.0], np.cumsum(values)))
    return csum[last + 1] - csum[first]


def _inverse_concurrency(first: np.ndarray, last: np.ndarray, n_grid: int) -> np.ndarray:
    c = _concurrency(first, last, n_grid)
    inv = np.zeros(n_grid)
    np.divide(1.0, c, out=inv, where=c > 0)  # bars no label covers never enter a window sum
    return inv


def average_uniqueness(ts: np.ndarray, t1: np.ndarray, grid_ts: np.ndarray) -> np.ndarray:
    """Mean of ``1 / concurrency`` over each label's bars, in ``(0, 1]``."""
    _, grid_ts, first, last = _inputs(ts, t1, grid_ts)
    inv = _inverse_concurrency(first, last, grid_ts.size)
    return _window_sums(inv, first, last) / (last - first + 1)


def _bar_log_returns(grid_ts: np.ndarray, grid_close: np.ndarray) -> np.ndarray:
    close = np.ascontiguousarray(grid_close, dtype=np.float64)
    if close.shape != grid_ts.shape:
        raise DataError(f"grid_close: expected shape {grid_ts.shape} to match grid_ts, got {close.shape}")
    if not (np.isfinite(close).all() and (close > 0).all()):
        i = int(np.flatnonzero(~(np.isfinite(close) & (close > 0)))[0])
        raise DataError(f"grid_close: row {i} is {close[i]!r}; closes must be finite and > 0")
    r = np.empty_like(close)
    r[0] = 0.0
    np.subtract(np.log(close[1:]), np.log(close[:-1]), out=r[1:])
    return r


def _check_grid_start(ts: np.ndarray, grid_ts: np.ndarray) -> None:
    if ts.size and ts[0] < grid_ts[0]:
        raise DataError(
            f"grid_ts: starts at {grid_ts[0]}, after the first label ts={ts[0]}; the grid must start at or "
            "before the first label so that every bar of a window has a return"
        )


def _uniqueness_and_attribution(
    ts: np.ndarray, t1: np.ndarray, grid_ts: np.ndarray, bar_returns: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    first, last = _label_bar_ranges(ts, t1, grid_ts)
    inv = _inverse_concurrency(first, last, grid_ts.size)
    uniqueness = _window_sums(inv, first, last) / (last - first + 1)
    attribution = np.abs(_window_sums(bar_returns * inv, first, last))
    return uniqueness, attribution


def return_attribution(
    ts: np.ndarray, t1: np.ndarray, grid_ts: np.ndarray, grid_close: np.ndarray
) -> np.ndarray:
    """``|sum of r_k / c_k|`` over each label's bars (AFML's return-attribution weight, unnormalised)."""
    ts, t1 = as_label_windows(ts, t1, t1_after_ts=True)
    grid_ts = as_timestamps(grid_ts, "grid_ts")
    _check_grid_start(ts, grid_ts)
    return _uniqueness_and_attribution(ts, t1, grid_ts, _bar_log_returns(grid_ts, grid_close))[1]


def time_decay(uniqueness: np.ndarray, oldest_weight: float) -> np.ndarray:
    """AFML time decay over cumulative uniqueness of rows in chronological order.

    The newest row gets 1; weights fall linearly in cumulative uniqueness towards ``oldest_weight``
    for the oldest (``oldest_weight`` in ``(-1, 1]``; 1 means no decay; a negative value sets the
    oldest ``|oldest_weight|`` share of cumulative uniqueness to weight 0).
    """
    u = np.asarray(uniqueness, dtype=np.float64)
    if not (-1.0 < oldest_weight <= 1.0):
        raise ConfigError(f"oldest_weight: expected a value in (-1, 1], got {oldest_weight!r}")
    if u.ndim != 1 or u.size == 0 or not (np.isfinite(u).all() and (u > 0).all()):
        raise DataError("uniqueness: expected a non-empty 1-D array of finite values > 0")
    cum = np.cumsum(u)
    total = cum[-1]
    if oldest_weight >= 0:
        slope = (1.0 - oldest_weight) / total
    else:
        slope = 1.0 / ((oldest_weight + 1.0) * total)
    const = 1.0 - slope * total
    return np.maximum(const + slope * cum, 0.0)


def sample_weights(
    ts: np.ndarray,
    t1: np.ndarray,
    grid_ts: np.ndarray,
    grid_close: np.ndarray,
    train_mask: np.ndarray,
    oldest_weight: float | None = None,
) -> np.ndarray:
    """Uniqueness × return attribution (× time decay), normalised to mean 1 over training rows.

    Training rows: concurrency counted among training labels only, decay (if ``oldest_weight`` is
    given) over training rows in time order, and the normaliser is the mean of their raw weights,
    so no training weight depends on a validation or test row. Other rows: concurrency among the
    non-training rows, no decay, divided by the same training normaliser.
    """
    ts, t1 = as_label_windows(ts, t1, t1_after_ts=True)
    grid_ts = as_timestamps(grid_ts, "grid_ts")
    _check_grid_start(ts, grid_ts)
    bar_returns = _bar_log_returns(grid_ts, grid_close)
    train_mask = np.asarray(train_mask)
    if train_mask.dtype != np.bool_ or train_mask.shape != ts.shape:
        raise DataError(
            f"train_mask: expected a bool array of shape {ts.shape}, got {train_mask.dtype} {train_mask.shape}"
        )
    if not train_mask.any():
        raise DataError("train_mask: no training rows; weights are normalised over training rows")
    raw = np.empty(ts.size)
    for rows in (train_mask, ~train_mask):
        if not rows.any():
            continue
        uniqueness, attribution = _uniqueness_and_attribution(ts[rows], t1[rows], grid_ts, bar_returns)
        raw[rows] = uniqueness * attribution
        if oldest_weight is not None and rows is train_mask:
            raw[rows] *= time_decay(uniqueness, oldest_weight)
    norm = raw[train_mask].mean()
    if not norm > 0:
        raise DataError(
            "sample_weights: every training row has zero return attribution (flat prices over all label "
            "windows); check grid_close"
        )
    return raw / norm
