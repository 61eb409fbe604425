"""Hand-computed triple-barrier cases: each rule of the module docstring, and input validation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlfactory.errors import ConfigError, DataError
from mlfactory.labels.triple_barrier import (
    BARRIER_BOTH,
    BARRIER_LOWER,
    BARRIER_UPPER,
    BARRIER_VERTICAL,
    label_horizons,
    triple_barrier_labels,
)

MIN = 60_000_000_000
T0 = 28_000_000 * MIN
GAP = 10 * MIN


def minutes(rows):
    """rows: (minute offset, open, high, low, close) -> ts, o, h, l, c arrays."""
    a = np.array(rows, dtype=np.float64)
    return (T0 + a[:, 0].astype(np.int64) * MIN, a[:, 1], a[:, 2], a[:, 3], a[:, 4])


def flat_minutes(first, last, price=100.0):
    return [(k, price, price + 0.25, price - 0.25, price) for k in range(first, last + 1)]


def label_one(rows, decision_offsets, horizon=1, k_up=1.0, k_down=1.0, entry=100.0, atr=1.0):
    """Label decision 0 (entry 100, ATR 1 -> barriers 101 / 99) on the given minutes."""
    ts, o, hi, lo, c = minutes(rows)
    dts = T0 + np.asarray(decision_offsets, dtype=np.int64) * MIN
    n = dts.size
    out = triple_barrier_labels(
        dts, np.full(n, entry), np.full(n, atr), ts, o, hi, lo, c, horizon, k_up, k_down, GAP
    )
    return out.label[0], out.t1[0], out.ret[0], out.barrier[0], out.valid[0]


def test_upper_touch_exits_at_the_barrier():
    rows = [*flat_minutes(0, 2), (3, 100.5, 101.5, 100.25, 101.25), *flat_minutes(4, 10)]
    assert label_one(rows, [0, 10]) == (
        1,
        T0 + 3 * MIN,
        pytest.approx(math.log(101 / 100)),
        BARRIER_UPPER,
        True,
    )


def test_touch_exactly_at_the_barrier_counts():
    rows = [*flat_minutes(0, 1), (2, 100.0, 100.5, 99.0, 99.5), *flat_minutes(3, 10)]
    assert label_one(rows, [0, 10])[:4] == (-1, T0 + 2 * MIN, pytest.approx(math.log(0.99)), BARRIER_LOWER)


def test_lower_gap_through_exits_at_the_open():
    rows = [*flat_minutes(0, 1), (2, 98.5, 98.75, 98.0, 98.25), *flat_minutes(3, 10)]
    assert label_one(rows, [0, 10])[:4] == (-1, T0 + 2 * MIN, pytest.approx(math.log(0.985)), BARRIER_LOWER)


def test_both_barriers_in_one_minute_with_open_inside_is_neutral_code_2():
    rows = [*flat_minutes(0, 3), (4, 100.0, 101.5, 98.5, 100.75), *flat_minutes(5, 10)]
    assert label_one(rows, [0, 10]) == (0, T0 + 4 * MIN, pytest.approx(math.log(1.0075)), BARRIER_BOTH, True)


def test_both_barriers_with_open_above_upper_take_the_upper_at_the_open():
    rows = [*flat_minutes(0, 3), (4, 101.5, 102.0, 98.5, 99.0), *flat_minutes(5, 10)]
    assert label_one(rows, [0, 10])[:4] == (1, T0 + 4 * MIN, pytest.approx(math.log(1.015)), BARRIER_UPPER)


def test_vertical_barrier_is_the_decision_bar_horizon_bars_ahead():
    rows = [*flat_minutes(0, 7), (8, 100, 100.5, 99.5, 100.5), *flat_minutes(9, 20)]
    # decisions every 4 minutes; horizon 2 -> vertical at minute 8
    got = label_one(rows, [0, 4, 8, 12, 16, 20], horizon=2)
    assert got == (0, T0 + 8 * MIN, pytest.approx(math.log(1.005)), BARRIER_VERTICAL, True)


def test_a_touch_after_the_vertical_is_ignored():
    rows = [*flat_minutes(0, 8), (9, 100, 102, 100, 101.5), *flat_minutes(10, 20)]
    assert label_one(rows, [0, 4, 8, 12], horizon=2)[:4] == (0, T0 + 8 * MIN, 0.0, BARRIER_VERTICAL)


def test_gap_inside_the_window_ends_it_at_the_minute_before():
    rows = [
        *flat_minutes(0, 3),
        (4, 100, 100.5, 99.5, 100.25),
        (30, 100, 105, 95, 104),
        *flat_minutes(31, 40),
    ]
    got = label_one(rows, [0, 40])
    assert got == (0, T0 + 4 * MIN, pytest.approx(math.log(1.0025)), BARRIER_VERTICAL, True)


def test_gap_right_after_the_decision_gives_an_invalid_empty_window():
    rows = [*flat_minutes(0, 0), (20, 100, 105, 95, 104), *flat_minutes(21, 30)]
    assert label_one(rows, [0, 30]) == (0, T0, 0.0, BARRIER_VERTICAL, False)


def test_gap_exactly_max_gap_is_not_a_break():
    rows = [*flat_minutes(0, 0), (10, 100, 101.5, 100, 101), *flat_minutes(11, 20)]
    assert label_one(rows, [0, 20])[:2] == (1, T0 + 10 * MIN)


def test_end_of_data_without_touch_is_censored_but_a_touch_is_kept():
    rows = [*flat_minutes(0, 5)]
    assert label_one(rows, [0]) == (0, T0 + 5 * MIN, 0.0, BARRIER_VERTICAL, False)
    rows = [*flat_minutes(0, 2), (3, 100, 101, 100, 101), *flat_minutes(4, 5)]
    assert label_one(rows, [0])[:2] == (1, T0 + 3 * MIN) and label_one(rows, [0])[4]


def test_minutes_ending_before_an_existing_vertical_are_censored():
    rows = [*flat_minutes(0, 5)]
    assert label_one(rows, [0, 8])[3:] == (BARRIER_VERTICAL, False)
    assert label_one(rows, [0, 5])[3:] == (BARRIER_VERTICAL, True)


def test_no_minute_after_the_last_decision_is_invalid():
    ts, o, hi, lo, c = minutes(flat_minutes(0, 5))
    dts = T0 + np.array([2, 5], dtype=np.int64) * MIN
    out = triple_barrier_labels(dts, np.full(2, 100.0), np.ones(2), ts, o, hi, lo, c, 3, 1.0, 1.0, GAP)
    assert out.valid.tolist() == [False, False]
    assert out.t1[1] == dts[1] and out.ret[1] == 0.0
    assert out.t1[0] == T0 + 5 * MIN  # censored: vertical values at the last minute


def test_asymmetric_barriers_use_their_own_width():
    rows = [*flat_minutes(0, 1), (2, 100, 100.5, 98.0, 98.5), *flat_minutes(3, 10)]
    assert label_one(rows, [0, 10], k_down=2.5)[0] == 0  # lower barrier at 97.5 not reached
    assert label_one(rows, [0, 10], k_down=2.0)[0] == -1


def test_label_horizons_accepts_per_horizon_k():
    ts, o, hi, lo, c = minutes([*flat_minutes(0, 2), (3, 100, 101.0, 100, 101.0), *flat_minutes(4, 30)])
    dts = T0 + np.arange(0, 31, 5, dtype=np.int64) * MIN
    n = dts.size
    out = label_horizons(
        dts, np.full(n, 100.0), np.ones(n), ts, o, hi, lo, c, [1, 2], {1: 1.0, 2: 2.0}, 1.0, GAP
    )
    assert out[1].label[0] == 1 and out[2].label[0] == 0
    assert (out[1].horizon, out[2].k_up) == (1, 2.0)
    with pytest.raises(ConfigError, match="k_up"):
        label_horizons(dts, np.full(n, 100.0), np.ones(n), ts, o, hi, lo, c, [1, 2], {1: 1.0}, 1.0, GAP)


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"atr": np.array([1.0, np.nan])}, DataError, "atr: row 1"),
        ({"atr": np.array([1.0, 0.0])}, DataError, "atr: row 1"),
        ({"minute_ts_swap": True}, DataError, "minute_ts: timestamps must be strictly increasing"),
        ({"decision_close": np.array([100.0])}, DataError, "decision_close: expected shape"),
        ({"horizon": 0}, ConfigError, "horizon"),
        ({"k_up": -1.0}, ConfigError, "k_up"),
        ({"max_gap_ns": 0}, ConfigError, "max_gap_ns"),
        ({"minute_ts_float": True}, DataError, "minute_ts: expected int64"),
    ],
)
def test_bad_inputs_fail_with_the_argument_named(change, error, match):
    ts, o, hi, lo, c = minutes(flat_minutes(0, 10))
    if change.get("minute_ts_swap"):
        ts = ts.copy()
        ts[[3, 4]] = ts[[4, 3]]
    if change.get("minute_ts_float"):
        ts = ts.astype(np.float64)
    args = {
        "decision_ts": T0 + np.array([0, 5], dtype=np.int64) * MIN,
        "decision_close": np.full(2, 100.0),
        "atr": np.ones(2),
        "minute_ts": ts,
        "minute_open": o,
        "minute_high": hi,
        "minute_low": lo,
        "minute_close": c,
        "horizon": 1,
        "k_up": 1.0,
        "k_down": 1.0,
        "max_gap_ns": GAP,
    }
    args.update({k: v for k, v in change.items() if k in args})
    with pytest.raises(error, match=match):
        triple_barrier_labels(**args)


@pytest.mark.real_data
def test_real_mes_label_windows_never_cross_a_session_break(real_mes_path):
    import pandas as pd

    bars = pd.read_parquet(real_mes_path)
    ts = bars["timestamp"].astype("int64").to_numpy()
    o, hi, lo, c = (bars[k].to_numpy(np.float64) for k in ("open", "high", "low", "close"))
    last_in_5m = np.r_[np.flatnonzero(np.diff((ts - 1) // (5 * MIN))), ts.size - 1]
    dts, dclose = ts[last_in_5m], c[last_in_5m]
    atr = np.full(dts.size, 2.0)  # a fixed 2-point ATR is enough to exercise the paths
    labels = label_horizons(dts, dclose, atr, ts, o, hi, lo, c, [5, 20], 1.5, 1.5, 15 * MIN)
    for h, lab in labels.items():
        v = lab.valid
        first = np.searchsorted(ts, dts[v], side="right")
        last = np.searchsorted(ts, lab.t1[v])
        gaps = np.diff(ts) > 15 * MIN
        gaps_before = np.r_[0, np.cumsum(gaps)]
        # no gap between the first path minute and t1, and none between t and the first minute
        assert (gaps_before[last] == gaps_before[first]).all()
        assert (ts[first] - dts[v] <= 15 * MIN).all()
        shares = np.bincount(lab.barrier[v] + 1, minlength=4) / v.sum()
        print(
            f"MES h={h}: {v.sum()} valid, {(~v).sum()} invalid; lower/vertical/upper/both = {shares.round(3)}"
        )
        assert v.mean() > 0.95 and shares[0] > 0.1 and shares[2] > 0.1
