"""Triple-barrier labels (AFML ch. 3) on the decision clock, first touch found on the 1-minute path.

Decision ``i`` is a decision-timeframe bar closing at ``decision_ts[i]``; the position is entered at
``decision_close[i]``. Barriers, in price units, use the ATR known at that decision time::

    upper = close + k_up * atr[i]        lower = close - k_down * atr[i]
    vertical = decision_ts[i + horizon]  (horizon counted in decision bars)

The path is the 1-minute bars with ``ts`` in ``(decision_ts[i], vertical]``, scanned minute by minute;
the first minute whose ``high >= upper`` or ``low <= lower`` is the touch.

Windows never cross a session break, a data gap or a contract roll: if two consecutive minutes of
the path (the decision time itself counting as the first point) are more than ``max_gap_ns`` apart,
or lie in different ``minute_segment`` values (the roll marker of stitched bars, see
``mlfactory.data.rolls``), the window ends at the last minute before the break and that minute is
the vertical barrier. When
``decision_ts[i + horizon]`` does not exist (end of data) the window runs to the last minute.

Both barriers inside one minute (conservative rule, the row is never dropped): if the minute's open
is already beyond a barrier, that barrier wins and the exit is the open (the price gapped through);
otherwise the order inside the minute is unknown, so the row is labelled 0 with barrier code 2
(``BOTH``) and ``t1`` at that minute. A single-barrier touch whose open is already beyond the
barrier also exits at the open.

Outputs per decision: ``label`` (+1 upper, -1 lower, 0 vertical/both), ``t1`` (exit minute ts),
``ret = log(exit / entry)`` with exit = barrier price (or the gapped-through open) for touches and
the close at ``t1`` for vertical/both, ``barrier`` (1 upper, -1 lower, 0 vertical, 2 both) and
``valid``. Two kinds of rows are invalid and must be dropped explicitly by the caller:

- empty window (no minute after ``t`` before the vertical barrier or a gap): label 0, ``t1 = t``,
  ret 0, barrier 0;
- censored by the end of the data: no touch, no gap closed the window, and the minutes stop before
  the vertical barrier (or ``decision_ts[i + horizon]`` does not exist). The row carries the
  vertical-barrier values at the last minute, but its 0 says nothing about the market.

Speed: the minutes are grouped once per call by decision bar (``_minute_blocks``); the kernel steps
over whole bars that touch neither barrier and scans minute by minute only inside the bar where
the first touch (or a gap) happens.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit

from mlfactory.data.segments import segment_breaks
from mlfactory.errors import ConfigError, DataError
from mlfactory.labels._validation import as_timestamps

BARRIER_UPPER = 1
BARRIER_LOWER = -1
BARRIER_VERTICAL = 0
BARRIER_BOTH = 2

_INT64_MAX = np.iinfo(np.int64).max


@dataclass(frozen=True)
class TripleBarrierLabels:
    """Labels for one horizon, aligned with the decision rows."""

    label: np.ndarray  # int8: +1 upper, -1 lower, 0 vertical/both/invalid
    t1: np.ndarray  # int64 ns: exit minute (== t for invalid rows)
    ret: np.ndarray  # float64: log(exit / entry)
    barrier: np.ndarray  # int8: 1 upper, -1 lower, 0 vertical, 2 both
    valid: np.ndarray  # bool: False for empty or end-of-data-censored windows
    horizon: int
    k_up: float
    k_down: float

    def as_dict(self) -> dict[str, np.ndarray]:
        return {
            "label": self.label,
            "t1": self.t1,
            "ret": self.ret,
            "barrier": self.barrier,
            "valid": self.valid,
        }


@njit(cache=True, nogil=True)
def _minute_blocks(decision_ts, minute_ts, minute_high, minute_low, minute_break, max_gap_ns):
    """Group the minutes by decision bar: index ranges and (high, low) of each group.

    Block ``k < n`` holds the minutes in ``(decision_ts[k-1], decision_ts[k]]``; block ``n`` holds the
    minutes after the last decision. The path of decision ``i`` is exactly blocks ``i+1 .. i+horizon``,
    so the kernel steps over a whole block when ``high < upper`` and ``low > lower``. A block with a
    gap (two consecutive minutes, counted from the last minute before it, more than ``max_gap_ns``
    apart) gets ``high = +inf`` so that it is always scanned minute by minute, where gaps are exact.
    An empty block has ``high = -inf, low = +inf`` and is always stepped over.
    """
    n = decision_ts.shape[0]
    m = minute_ts.shape[0]
    start = np.empty(n + 2, dtype=np.int64)
    high_low = np.empty((n + 1, 2))
    j = 0
    for k in range(n + 1):
        start[k] = j
        edge = decision_ts[k] if k < n else _INT64_MAX
        hi = -np.inf
        lo = np.inf
        gap = False
        while j < m and minute_ts[j] <= edge:
            hi = max(hi, minute_high[j])
            lo = min(lo, minute_low[j])
            gap |= j > 0 and (minute_ts[j] - minute_ts[j - 1] > max_gap_ns or minute_break[j])
            j += 1
        high_low[k, 0] = np.inf if gap else hi
        high_low[k, 1] = lo
    start[n + 1] = m
    return start, high_low


@njit(cache=True, nogil=True)
def _triple_barrier_kernel(
    decision_ts, decision_close, atr, minute_ts, minute_open, minute_high, minute_low, minute_close,
    minute_break, blk_start, blk_high_low, horizon, k_up, k_down, max_gap_ns, label, t1, exit_price,
    barrier, valid,
):  # fmt: skip
    n = decision_ts.shape[0]
    m = minute_ts.shape[0]
    for i in range(n):
        t = decision_ts[i]
        entry = decision_close[i]
        upper = entry + k_up * atr[i]
        lower = entry - k_down * atr[i]
        has_vertical = i + horizon < n
        k_last = i + horizon if has_vertical else n
        path_start = blk_start[i + 1]

        gap_closed = False
        touched = False
        f = path_start
        k = i + 1
        while True:
            while k <= k_last and blk_high_low[k, 0] < upper and blk_high_low[k, 1] > lower:
                k += 1
            if k > k_last:
                break
            s = blk_start[k]
            f = blk_start[k + 1]
            prev = minute_ts[s - 1] if s > path_start else t
            for j in range(s, f):
                ts_j = minute_ts[j]
                if ts_j - prev > max_gap_ns or minute_break[j]:
                    gap_closed = True
                    f = j  # the window ends at the minute before the gap
                    break
                up_hit = minute_high[j] >= upper
                down_hit = minute_low[j] <= lower
                if up_hit or down_hit:
                    o = minute_open[j]
                    touched = True
                    t1[i] = ts_j
                    if up_hit and (not down_hit or o >= upper):
                        label[i] = 1
                        barrier[i] = BARRIER_UPPER
                        exit_price[i] = max(o, upper)
                    elif down_hit and (not up_hit or o <= lower):
                        label[i] = -1
                        barrier[i] = BARRIER_LOWER
                        exit_price[i] = min(o, lower)
                    else:
                        label[i] = 0
                        barrier[i] = BARRIER_BOTH
                        exit_price[i] = minute_close[j]
                    valid[i] = True
                    break
                prev = ts_j
            if touched or gap_closed:
                break
            k += 1

        if touched:
            continue
        # vertical barrier: the last minute of the window (before a gap, or up to block k_last)
        last = (f if gap_closed else blk_start[k_last + 1]) - 1
        label[i] = 0
        barrier[i] = BARRIER_VERTICAL
        if last < path_start:
            t1[i] = t
            exit_price[i] = entry
            valid[i] = False
            continue
        t1[i] = minute_ts[last]
        exit_price[i] = minute_close[last]
        if gap_closed:
            valid[i] = True
        elif has_vertical:
            # censored when the minute data stop before the vertical barrier
            valid[i] = not (blk_start[k_last + 1] == m and minute_ts[m - 1] < decision_ts[k_last])
        else:
            valid[i] = False


@njit(cache=True)
def _first_not_positive_finite(a):
    ok = True
    for i in range(a.shape[0]):  # branch-free pass (vectorises); locate the culprit only on failure
        ok &= (a[i] > 0.0) & (a[i] < np.inf)
    if ok:
        return -1
    for i in range(a.shape[0]):
        if not (a[i] > 0.0 and a[i] < np.inf):
            return i
    return -1


def _as_positive(a: np.ndarray, name: str, n: int, hint: str = "") -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=np.float64)
    if a.shape != (n,):
        raise DataError(f"{name}: expected shape ({n},) to match its timestamps, got {a.shape}")
    bad = _first_not_positive_finite(a)
    if bad >= 0:
        raise DataError(f"{name}: row {bad} is {a[bad]!r}; values must be finite and > 0{hint}")
    return a


@dataclass(frozen=True)
class LabelInputs:
    """Validated arrays plus the block table, reusable across horizons and barrier widths."""

    decision_ts: np.ndarray
    decision_close: np.ndarray
    atr: np.ndarray
    minute_ts: np.ndarray
    minute_open: np.ndarray
    minute_high: np.ndarray
    minute_low: np.ndarray
    minute_close: np.ndarray
    max_gap_ns: int
    max_horizon: int
    blocks: tuple[np.ndarray, np.ndarray]
    minute_break: np.ndarray  # bool: a roll lies between minute j-1 and minute j


def _check_horizon(horizon: int, name: str = "horizon") -> int:
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
        raise ConfigError(f"{name}: expected an integer >= 1 (decision bars), got {horizon!r}")
    return int(horizon)


def prepare_label_inputs(
    decision_ts: np.ndarray,
    decision_close: np.ndarray,
    atr: np.ndarray,
    minute_ts: np.ndarray,
    minute_open: np.ndarray,
    minute_high: np.ndarray,
    minute_low: np.ndarray,
    minute_close: np.ndarray,
    max_gap_ns: int,
    max_horizon: int,
    minute_segment: np.ndarray | None = None,
) -> LabelInputs:
    """Validate the arrays once (raises ``DataError``/``ConfigError``) for any horizon <= ``max_horizon``."""
    max_horizon = _check_horizon(max_horizon, "max_horizon")
    dts = as_timestamps(decision_ts, "decision_ts")
    mts = as_timestamps(minute_ts, "minute_ts")
    n, m = dts.shape[0], mts.shape[0]
    if m == 0:
        raise DataError("minute_ts: no 1-minute bars given; labels need the minute path after each decision")
    if isinstance(max_gap_ns, bool) or not isinstance(max_gap_ns, int | np.integer) or max_gap_ns <= 0:
        raise ConfigError(f"max_gap_ns: expected a positive integer of nanoseconds, got {max_gap_ns!r}")
    high = _as_positive(minute_high, "minute_high", m)
    low = _as_positive(minute_low, "minute_low", m)
    brk = segment_breaks(minute_segment, m)
    return LabelInputs(
        decision_ts=dts,
        decision_close=_as_positive(decision_close, "decision_close", n),
        atr=_as_positive(
            atr, "atr", n, "; drop warm-up rows (NaN ATR) before labelling, or floor the ATR at one tick"
        ),
        minute_ts=mts,
        minute_open=_as_positive(minute_open, "minute_open", m),
        minute_high=high,
        minute_low=low,
        minute_close=_as_positive(minute_close, "minute_close", m),
        max_gap_ns=int(max_gap_ns),
        max_horizon=max_horizon,
        blocks=_minute_blocks(dts, mts, high, low, brk, int(max_gap_ns)),
        minute_break=brk,
    )


def triple_barrier_from_inputs(
    inputs: LabelInputs, horizon: int, k_up: float, k_down: float
) -> TripleBarrierLabels:
    """Label one horizon on prepared inputs (the kernel call alone; outputs are the only allocations)."""
    horizon = _check_horizon(horizon)
    if horizon > inputs.max_horizon:
        raise ConfigError(
            f"horizon: {horizon} exceeds the max_horizon {inputs.max_horizon} the inputs were prepared for"
        )
    for name, k in (("k_up", k_up), ("k_down", k_down)):
        if not (np.isfinite(k) and k > 0):
            raise ConfigError(f"{name}: expected a finite multiple of ATR > 0, got {k!r}")
    n = inputs.decision_ts.shape[0]
    label = np.empty(n, dtype=np.int8)
    t1 = np.empty(n, dtype=np.int64)
    ret = np.empty(n, dtype=np.float64)
    barrier = np.empty(n, dtype=np.int8)
    valid = np.empty(n, dtype=np.bool_)
    _triple_barrier_kernel(
        inputs.decision_ts, inputs.decision_close, inputs.atr, inputs.minute_ts, inputs.minute_open,
        inputs.minute_high, inputs.minute_low, inputs.minute_close, inputs.minute_break, *inputs.blocks, horizon,
        float(k_up), float(k_down), inputs.max_gap_ns, label, t1, ret, barrier, valid,
    )  # fmt: skip
    # the kernel leaves the exit price in ``ret``; one vectorised log is much cheaper than n scalar ones
    np.divide(ret, inputs.decision_close, out=ret)
    np.log(ret, out=ret)
    return TripleBarrierLabels(label, t1, ret, barrier, valid, horizon, float(k_up), float(k_down))


def triple_barrier_labels(
    decision_ts: np.ndarray,
    decision_close: np.ndarray,
    atr: np.ndarray,
    minute_ts: np.ndarray,
    minute_open: np.ndarray,
    minute_high: np.ndarray,
    minute_low: np.ndarray,
    minute_close: np.ndarray,
    horizon: int,
    k_up: float,
    k_down: float,
    max_gap_ns: int,
    minute_segment: np.ndarray | None = None,
) -> TripleBarrierLabels:
    """Label every decision row for one horizon (see the module docstring for the exact rules)."""
    inputs = prepare_label_inputs(
        decision_ts, decision_close, atr, minute_ts, minute_open, minute_high, minute_low, minute_close,
        max_gap_ns, _check_horizon(horizon), minute_segment,
    )  # fmt: skip
    return triple_barrier_from_inputs(inputs, horizon, k_up, k_down)


def _per_horizon(value: float | Mapping[int, float], horizons: Sequence[int], name: str) -> dict[int, float]:
    if isinstance(value, Mapping):
        missing = [h for h in horizons if h not in value]
        if missing:
            raise ConfigError(
                f"{name}: no value for horizon(s) {missing}; give one per horizon or a single float"
            )
        return {h: float(value[h]) for h in horizons}
    return {h: float(value) for h in horizons}


def label_horizons(
    decision_ts: np.ndarray,
    decision_close: np.ndarray,
    atr: np.ndarray,
    minute_ts: np.ndarray,
    minute_open: np.ndarray,
    minute_high: np.ndarray,
    minute_low: np.ndarray,
    minute_close: np.ndarray,
    horizons: Sequence[int],
    k_up: float | Mapping[int, float],
    k_down: float | Mapping[int, float],
    max_gap_ns: int,
    minute_segment: np.ndarray | None = None,
) -> dict[int, TripleBarrierLabels]:
    """Label several horizons (inputs validated once); ``k_up``/``k_down`` are floats or ``{horizon: k}``."""
    horizons = [_check_horizon(h, "horizons") for h in horizons]
    if not horizons or len(set(horizons)) != len(horizons):
        raise ConfigError(f"horizons: expected a non-empty list of distinct integers, got {horizons!r}")
    ku = _per_horizon(k_up, horizons, "k_up")
    kd = _per_horizon(k_down, horizons, "k_down")
    inputs = prepare_label_inputs(
        decision_ts, decision_close, atr, minute_ts, minute_open, minute_high, minute_low, minute_close,
        max_gap_ns, max(horizons), minute_segment,
    )  # fmt: skip
    return {h: triple_barrier_from_inputs(inputs, h, ku[h], kd[h]) for h in horizons}
