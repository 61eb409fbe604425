"""A contract roll (a change of the minutes' ``segment``) ends a label path like a session break."""

from __future__ import annotations

import numpy as np

from mlfactory.labels.triple_barrier import (
    BARRIER_UPPER,
    BARRIER_VERTICAL,
    label_horizons,
    triple_barrier_labels,
)

MIN = 60_000_000_000
T0 = 28_000_000 * MIN
GAP = 10 * MIN


def _path(touch_minute: int = 6, n: int = 11):
    """Minutes 0..n-1 flat at 100 (high 100.25, low 99.75); one minute touches 101.5."""
    ts = T0 + np.arange(n, dtype=np.int64) * MIN
    o, c = np.full(n, 100.0), np.full(n, 100.0)
    hi, lo = np.full(n, 100.25), np.full(n, 99.75)
    hi[touch_minute] = 101.5
    return ts, o, hi, lo, c


SEGMENT = np.array([0] * 5 + [1] * 6)  # the roll lies between minute 4 and minute 5


def _label(segment, decisions=(0, 10), horizon=1, path=None):
    ts, o, hi, lo, c = path or _path()
    dts = T0 + np.asarray(decisions, dtype=np.int64) * MIN
    n = dts.size
    return triple_barrier_labels(
        dts,
        np.full(n, 100.0),
        np.full(n, 1.0),
        ts,
        o,
        hi,
        lo,
        c,
        horizon,
        1.0,
        1.0,
        GAP,
        minute_segment=segment,
    )


def test_without_a_roll_the_touch_after_minute_5_counts():
    out = _label(None)
    assert (out.label[0], out.barrier[0], out.t1[0]) == (1, BARRIER_UPPER, T0 + 6 * MIN)


def test_the_path_stops_at_the_last_minute_before_the_roll():
    out = _label(SEGMENT)
    assert (out.label[0], out.barrier[0], out.t1[0], out.valid[0]) == (
        0,
        BARRIER_VERTICAL,
        T0 + 4 * MIN,
        True,
    )
    assert out.ret[0] == 0.0


def test_a_decision_on_the_last_minute_before_the_roll_has_an_empty_window():
    out = _label(SEGMENT, decisions=(4, 10))
    assert (out.valid[0], out.t1[0]) == (False, T0 + 4 * MIN)


def test_perturbing_bars_after_the_roll_leaves_labels_before_it_unchanged():
    ts, o, hi, lo, c = _path(touch_minute=2)  # decision 0 touches before the roll
    rng = np.random.default_rng(0)
    base = label_horizons(
        T0 + np.array([0, 1, 3, 10]) * MIN, np.full(4, 100.0), np.full(4, 1.0), ts, o, hi, lo, c,
        (1, 2), 1.0, 1.0, GAP, minute_segment=SEGMENT,
    )  # fmt: skip
    k = np.arange(11) >= 5
    hi2, lo2 = hi.copy(), lo.copy()
    hi2[k] += rng.uniform(0, 3, k.sum())
    lo2[k] -= rng.uniform(0, 3, k.sum())
    moved = label_horizons(
        T0 + np.array([0, 1, 3, 10]) * MIN, np.full(4, 100.0), np.full(4, 1.0), ts, o, hi2, lo2, c,
        (1, 2), 1.0, 1.0, GAP, minute_segment=SEGMENT,
    )  # fmt: skip
    for h in (1, 2):
        for name in ("label", "t1", "ret", "barrier", "valid"):
            np.testing.assert_array_equal(getattr(base[h], name)[:3], getattr(moved[h], name)[:3])
        assert (base[h].t1[:3] <= T0 + 4 * MIN).all()  # no path crosses the roll
