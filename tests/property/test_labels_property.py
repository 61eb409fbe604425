"""Triple-barrier kernel vs a slow, obviously-correct Python reference on random minute paths."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mlfactory.labels.triple_barrier import label_horizons, triple_barrier_labels

MIN = 60_000_000_000
T0 = 28_000_000 * MIN  # a whole minute in 2023
MAX_GAP = 10 * MIN
TICK = 0.25


def reference_labels(dts, dclose, atr, mts, mo, mh, ml, mc, horizon, k_up, k_down, max_gap):
    """Straight from the definition: list the window's minutes, cut at the first gap, scan."""
    n = len(dts)
    out = {"label": [], "t1": [], "ret": [], "barrier": [], "valid": []}

    def put(label, t1, ret, barrier, valid):
        for key, v in zip(out, (label, t1, ret, barrier, valid), strict=True):
            out[key].append(v)

    for i in range(n):
        t, entry = int(dts[i]), float(dclose[i])
        upper, lower = entry + k_up * atr[i], entry - k_down * atr[i]
        vertical = int(dts[i + horizon]) if i + horizon < n else None
        window = [j for j in range(len(mts)) if mts[j] > t and (vertical is None or mts[j] <= vertical)]
        kept, prev, gap = [], t, False
        for j in window:
            if mts[j] - prev > max_gap:
                gap = True
                break
            kept.append(j)
            prev = mts[j]
        result = None
        for j in kept:
            up, down, o = mh[j] >= upper, ml[j] <= lower, mo[j]
            if up and down:
                if o >= upper:
                    result = (1, mts[j], math.log(o / entry), 1)
                elif o <= lower:
                    result = (-1, mts[j], math.log(o / entry), -1)
                else:
                    result = (0, mts[j], math.log(mc[j] / entry), 2)
            elif up:
                result = (1, mts[j], math.log(max(o, upper) / entry), 1)
            elif down:
                result = (-1, mts[j], math.log(min(o, lower) / entry), -1)
            if result:
                break
        if result:
            put(*result, True)
        elif not kept:
            put(0, t, 0.0, 0, False)
        else:
            last = kept[-1]
            complete = gap or (vertical is not None and mts[-1] >= vertical)
            put(0, mts[last], math.log(mc[last] / entry), 0, complete)
    return {k: np.array(v) for k, v in out.items()}


def random_market(seed: int, n_minutes: int, p_gap: float, p_jump: float, p_wide: float, n_decisions: int):
    """Tick-rounded minute bars with missing minutes, session gaps, open jumps and wide bars."""
    rng = np.random.default_rng(seed)
    steps = rng.choice([1, 1, 1, 2, 3], size=n_minutes)
    gaps = rng.random(n_minutes) < p_gap
    steps[gaps] = rng.choice([10, 11, 25, 89], size=gaps.sum())  # 10 min == MAX_GAP is not a gap
    mts = T0 + np.cumsum(steps).astype(np.int64) * MIN
    close = 100 + TICK * np.cumsum(rng.integers(-4, 5, size=n_minutes))
    open_ = np.r_[100.0, close[:-1]] + TICK * np.where(
        rng.random(n_minutes) < p_jump, rng.integers(-12, 13, n_minutes), 0
    )
    extra = np.where(rng.random(n_minutes) < p_wide, 12, 2)
    high = np.maximum(open_, close) + TICK * rng.integers(0, extra + 1)
    low = np.minimum(open_, close) - TICK * rng.integers(0, extra + 1)
    # decisions: a sorted subset of minute closes, some shifted off the minute grid, maybe one before the data
    pick = np.sort(rng.choice(n_minutes, size=min(n_decisions, n_minutes), replace=False))
    dts = mts[pick] - np.where(rng.random(pick.size) < 0.2, MIN // 2, 0)
    if rng.random() < 0.3:
        dts = np.r_[mts[0] - 3 * MIN, dts]
        pick = np.r_[0, pick]
    dts = np.unique(dts)
    dclose = close[pick[: dts.size]]
    atr = TICK * rng.integers(1, 12, size=dts.size)
    return dts, dclose, atr, mts, open_, high, low, close


markets = st.builds(
    random_market,
    seed=st.integers(0, 2**32 - 1),
    n_minutes=st.integers(1, 70),
    p_gap=st.sampled_from([0.0, 0.05, 0.2]),
    p_jump=st.sampled_from([0.0, 0.1, 0.5]),
    p_wide=st.sampled_from([0.0, 0.1, 0.5]),
    n_decisions=st.integers(1, 25),
)
barrier_ks = st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0, 0.37])


@settings(max_examples=300, deadline=None)
@given(market=markets, horizon=st.integers(1, 5), k_up=barrier_ks, k_down=barrier_ks)
def test_kernel_matches_reference(market, horizon, k_up, k_down):
    got = triple_barrier_labels(*market, horizon, k_up, k_down, MAX_GAP)
    want = reference_labels(*market, horizon, k_up, k_down, MAX_GAP)
    for key in ("label", "t1", "barrier", "valid"):
        np.testing.assert_array_equal(getattr(got, key), want[key], err_msg=key)
    np.testing.assert_allclose(got.ret, want["ret"], rtol=0, atol=1e-12)


@settings(max_examples=150, deadline=None)
@given(market=markets, horizon=st.integers(1, 5), k_up=barrier_ks, k_down=barrier_ks)
def test_t1_inside_window_and_ret_consistent(market, horizon, k_up, k_down):
    dts, dclose, atr, mts, mo, _, _, mc = market
    got = triple_barrier_labels(*market, horizon, k_up, k_down, MAX_GAP)
    assert (got.t1 >= dts).all()
    has_vertical = np.arange(dts.size) + horizon < dts.size
    assert (got.t1[has_vertical] <= dts[np.flatnonzero(has_vertical) + horizon]).all()
    moved = got.t1 > dts
    # every exit is a real minute; invalid empty windows keep t1 == t
    assert np.isin(got.t1[moved], mts).all()
    assert (got.valid[~moved] == False).all()  # noqa: E712
    j = np.searchsorted(mts, got.t1[moved])
    entry, bar = dclose[moved], got.barrier[moved]
    exit_price = entry * np.exp(got.ret[moved])
    upper = entry + k_up * atr[moved]
    lower = entry - k_down * atr[moved]
    np.testing.assert_allclose(exit_price[bar == 1], np.maximum(mo[j], upper)[bar == 1], rtol=1e-12)
    np.testing.assert_allclose(exit_price[bar == -1], np.minimum(mo[j], lower)[bar == -1], rtol=1e-12)
    at_close = (bar == 0) | (bar == 2)
    np.testing.assert_allclose(exit_price[at_close], mc[j][at_close], rtol=1e-12)
    assert (got.label == np.where(np.abs(got.barrier) == 1, got.barrier, 0)).all()


@settings(max_examples=100, deadline=None)
@given(market=markets, horizon=st.integers(1, 5), cut=st.floats(0, 1), seed=st.integers(0, 2**16))
def test_prices_after_the_vertical_barrier_do_not_change_a_label(market, horizon, cut, seed):
    dts, dclose, atr, mts, mo, mh, ml, mc = market
    cut_ts = mts[int(cut * (mts.size - 1))]
    later = mts > cut_ts
    rng = np.random.default_rng(seed)
    shock = np.exp(rng.normal(0, 0.05, size=later.sum()))
    mo2, mh2, ml2, mc2 = (a.copy() for a in (mo, mh, ml, mc))
    for a in (mo2, mc2):
        a[later] *= shock
    mh2[later] = np.maximum(mh[later] * shock * 1.02, np.maximum(mo2[later], mc2[later]))
    ml2[later] = np.minimum(ml[later] * shock * 0.98, np.minimum(mo2[later], mc2[later]))
    a = triple_barrier_labels(dts, dclose, atr, mts, mo, mh, ml, mc, horizon, 1.0, 1.0, MAX_GAP)
    b = triple_barrier_labels(dts, dclose, atr, mts, mo2, mh2, ml2, mc2, horizon, 1.0, 1.0, MAX_GAP)
    idx = np.arange(dts.size)
    closed = (idx + horizon < dts.size) & (dts[np.minimum(idx + horizon, dts.size - 1)] <= cut_ts)
    for key in ("label", "t1", "ret", "barrier", "valid"):
        np.testing.assert_array_equal(getattr(a, key)[closed], getattr(b, key)[closed], err_msg=key)


def test_label_horizons_equals_single_horizon_calls_on_a_longer_path():
    market = random_market(7, 3000, 0.01, 0.05, 0.05, 600)
    k_up, k_down = {2: 0.5, 5: 1.0, 9: 2.0}, {2: 1.5, 5: 1.0, 9: 0.75}
    many = label_horizons(*market, [2, 5, 9], k_up, k_down, MAX_GAP)
    for h in (2, 5, 9):
        one = triple_barrier_labels(*market, h, k_up[h], k_down[h], MAX_GAP)
        want = reference_labels(*market, h, k_up[h], k_down[h], MAX_GAP)
        for key in ("label", "t1", "barrier", "valid"):
            np.testing.assert_array_equal(getattr(many[h], key), getattr(one, key))
            np.testing.assert_array_equal(getattr(many[h], key), want[key])
        np.testing.assert_allclose(many[h].ret, want["ret"], atol=1e-12)
