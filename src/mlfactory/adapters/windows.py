"""Builders of the 3D window view and the 4D multi-stream view, aligned to decision timestamps.

For each decision time ``t`` a window ends at the last row whose bar closed at or before ``t``
(``row_ts <= t``: closed bars only), and spans the ``seq_len`` rows up to it. A decision is kept
only if that window

- exists (at least ``seq_len`` rows closed by ``t``),
- lies inside one segment (``row_segment`` changes at every session break or gap; a window never
  straddles one),
- holds only valid rows (``row_valid`` is False on warm-up rows; rows with a non-finite value are
  treated as invalid too, so a window never feeds NaN/inf to a network),
- and, when ``min_start_ts`` is given, starts at or after it (e.g. a fold's training start).

Dropped decisions are not an error: the view's ``timestamps`` list the decisions it could build, in
the order given, and callers report the rest as coverage. Nothing is copied per window: the views
hold the ``(T, F)`` float32 matrix and one end row per decision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from mlfactory.adapters.views import MultiStreamView, WindowView
from mlfactory.errors import DataError

StreamArrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # values, row_ts, row_segment, row_valid


def window_ends(
    row_ts: np.ndarray,
    row_segment: np.ndarray,
    row_valid: np.ndarray,
    decision_ts: np.ndarray,
    seq_len: int,
    min_start_ts: int | None = None,
) -> np.ndarray:
    """Row index of each decision's window end, or -1 where no admissible window exists."""
    n_rows = len(row_ts)
    if n_rows == 0:
        return np.full(len(decision_ts), -1, dtype=np.int64)
    end = np.searchsorted(row_ts, decision_ts, side="right") - 1
    start = end - (seq_len - 1)
    ok = start >= 0
    s, e = np.where(ok, start, 0), np.where(ok, end, 0)
    # first row of the contiguous segment run holding each row (ids may repeat across breaks)
    rows = np.arange(n_rows)
    change = np.ones(n_rows, dtype=bool)
    change[1:] = row_segment[1:] != row_segment[:-1]
    run_start = np.maximum.accumulate(np.where(change, rows, 0))
    ok &= run_start[e] <= s
    invalid_before = np.concatenate(([0], np.cumsum(~row_valid)))
    ok &= invalid_before[e + 1] == invalid_before[s]
    if min_start_ts is not None:
        ok &= row_ts[s] >= min_start_ts
    return np.where(ok, end, -1).astype(np.int64)


def build_window_view(
    values: np.ndarray,
    row_ts: np.ndarray,
    row_segment: np.ndarray,
    row_valid: np.ndarray,
    decision_ts: np.ndarray,
    seq_len: int,
    *,
    feature_names: Sequence[str] | None = None,
    min_start_ts: int | None = None,
) -> WindowView:
    """3D windows ``(n, seq_len, F)`` of ``values`` ending at each decision's last closed row.

    ``values`` (T, F) holds one row per bar (``row_ts``: bar close, int64 ns, strictly increasing);
    ``feature_names`` defaults to ``x0..x{F-1}``. Decisions without an admissible window are dropped
    (see the module docstring); ``view.timestamps`` are the decisions kept.
    """
    vals, ts, seg, valid = _check_stream("values", values, row_ts, row_segment, row_valid)
    dts = _check_decisions(decision_ts)
    _check_seq_len(seq_len)
    names = _feature_names(feature_names, vals.shape[1])
    ends = window_ends(ts, seg, valid, dts, seq_len, min_start_ts)
    keep = ends >= 0
    return WindowView(vals, ends[keep], int(seq_len), dts[keep], names)


def build_multistream_view(
    streams: Mapping[str, StreamArrays],
    decision_ts: np.ndarray,
    seq_len: int,
    *,
    feature_names: Sequence[str] | None = None,
    min_start_ts: int | None = None,
) -> MultiStreamView:
    """4D windows ``(n, n_streams, seq_len, C)``: one window per stream (e.g. timeframe) per decision.

    ``streams`` maps a name (``"1m"``, ``"5m"``, ...) to ``(values, row_ts, row_segment, row_valid)``
    of that stream's bars; every stream must have the same channels. Each stream's window ends at its
    last bar closed by the decision time, so a 15m bar reaches a decision only once it has closed.
    Only decisions every stream can build are kept; streams keep the mapping's order.
    """
    if not streams:
        raise DataError("build_multistream_view: streams is empty; pass at least one timeframe stream")
    dts = _check_decisions(decision_ts)
    _check_seq_len(seq_len)
    checked = {name: _check_stream(f"streams[{name!r}]", *arrays) for name, arrays in streams.items()}
    widths = {name: c[0].shape[1] for name, c in checked.items()}
    if len(set(widths.values())) != 1:
        raise DataError(
            f"build_multistream_view: streams have different channel counts {widths}; "
            "give every stream the same channels (e.g. raw OHLCV)"
        )
    names = _feature_names(feature_names, next(iter(widths.values())))
    ends = {name: window_ends(c[1], c[2], c[3], dts, seq_len, min_start_ts) for name, c in checked.items()}
    keep = np.logical_and.reduce([e >= 0 for e in ends.values()])
    views = tuple(
        WindowView(checked[name][0], e[keep], int(seq_len), dts[keep], names) for name, e in ends.items()
    )
    return MultiStreamView(views, tuple(checked))


def _check_stream(
    what: str, values: np.ndarray, row_ts: np.ndarray, row_segment: np.ndarray, row_valid: np.ndarray
) -> StreamArrays:
    vals = np.asarray(values)
    if vals.ndim != 2:
        raise DataError(f"{what}: values must be 2D (rows, features), got shape {vals.shape}")
    n = vals.shape[0]
    ts = np.asarray(row_ts)
    seg = np.asarray(row_segment)
    valid = np.asarray(row_valid)
    for field, arr in (("row_ts", ts), ("row_segment", seg), ("row_valid", valid)):
        if arr.shape != (n,):
            raise DataError(f"{what}: {field} must have shape ({n},) like the values rows, got {arr.shape}")
    if ts.dtype != np.int64:
        raise DataError(f"{what}: row_ts must be int64 ns since epoch (bar close), got dtype {ts.dtype}")
    if n > 1 and not (np.diff(ts) > 0).all():
        bad = int(np.flatnonzero(np.diff(ts) <= 0)[0]) + 1
        raise DataError(f"{what}: row_ts must be strictly increasing; row {bad} is not after row {bad - 1}")
    if valid.dtype != np.bool_:
        raise DataError(f"{what}: row_valid must be a boolean array, got dtype {valid.dtype}")
    if not np.issubdtype(seg.dtype, np.integer):
        raise DataError(f"{what}: row_segment must hold integer segment ids, got dtype {seg.dtype}")
    vals = np.ascontiguousarray(vals, dtype=np.float32)
    finite = np.isfinite(vals).all(axis=1)
    return vals, ts, seg, valid & finite


def _check_decisions(decision_ts: np.ndarray) -> np.ndarray:
    dts = np.asarray(decision_ts)
    if dts.ndim != 1 or dts.dtype != np.int64:
        raise DataError(
            f"decision_ts must be a 1D int64 array of ns timestamps, got shape {dts.shape} dtype {dts.dtype}"
        )
    return dts


def _check_seq_len(seq_len: int) -> None:
    if isinstance(seq_len, bool) or not isinstance(seq_len, int | np.integer) or seq_len < 1:
        raise DataError(f"seq_len must be a positive integer, got {seq_len!r}")


def _feature_names(names: Sequence[str] | None, width: int) -> tuple[str, ...]:
    if names is None:
        return tuple(f"x{i}" for i in range(width))
    names = tuple(names)
    if len(names) != width:
        raise DataError(f"feature_names: {len(names)} names for {width} value columns")
    return names
