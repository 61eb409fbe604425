"""Barrier search: cost conversion, the objective, train-only data use, bounds and persistence."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from mlfactory.data.instruments import get_instrument
from mlfactory.errors import ConfigError
from mlfactory.labels.barrier_optimization import (
    BarrierOptimizationResult,
    _at_bound,
    barrier_objective,
    optimize_barriers,
)

MIN = 60_000_000_000
T0 = 28_000_000 * MIN


def test_round_trip_costs_in_points_for_mes_and_6e():
    mes, e6 = get_instrument("MES"), get_instrument("6E")
    assert (mes.tick_size, mes.point_value, mes.commission_per_side, mes.slippage_ticks) == (0.25, 5, 0.62, 1)
    assert mes.round_trip_cost_points() == pytest.approx(2 * (0.62 / 5 + 0.25)) == pytest.approx(0.748)
    assert (e6.tick_size, e6.point_value, e6.commission_per_side) == (0.00005, 125000, 2.35)
    assert (
        e6.round_trip_cost_points()
        == pytest.approx(2 * (2.35 / 125000 + 0.00005))
        == pytest.approx(0.0001376)
    )


def test_objective_hand_computed():
    label = np.array([-1, 0, 1, 1])
    entry = np.full(4, 100.0)
    # moves in points: 1.0 (short), -, 0.5 and 2.0 (longs); cost 0.748 -> 2 of 3 directional are tradable
    ret = np.log(np.array([99.0, 100.2, 100.5, 102.0]) / 100)
    s = barrier_objective(label, ret, entry, 0.748)
    balance = -(0.25 * math.log(0.25) * 2 + 0.5 * math.log(0.5)) / math.log(3)
    assert s.tradable_fraction == pytest.approx(2 / 3)
    assert s.class_balance == pytest.approx(balance)
    assert s.score == pytest.approx(2 / 3 * balance)
    assert (s.share_short, s.share_neutral, s.share_long, s.n_rows) == (0.25, 0.25, 0.5, 4)
    assert barrier_objective(np.zeros(5, int), np.zeros(5), np.full(5, 100.0), 0.748).score == 0.0


def random_walk(seed=0, n_minutes=6000):
    rng = np.random.default_rng(seed)
    mts = T0 + np.arange(1, n_minutes + 1, dtype=np.int64) * MIN
    close = 5000 + np.round(np.cumsum(rng.normal(0, 1.0, n_minutes)) * 4) / 4
    open_ = np.r_[5000.0, close[:-1]]
    high = np.maximum(open_, close) + 0.25 * rng.integers(0, 3, n_minutes)
    low = np.minimum(open_, close) - 0.25 * rng.integers(0, 3, n_minutes)
    dts, dclose = mts[4::5], close[4::5]
    atr = np.full(dts.size, 3.0)
    return [dts, dclose, atr, mts, open_, high, low, close]


def run(market, **kw):
    args = dict(
        horizons=[3, 6], train_end_ns=int(market[0][700]), instrument=get_instrument("MES"),
        max_gap_ns=10 * MIN, seed=11, n_trials=12,
    )  # fmt: skip
    args.update(kw)
    return optimize_barriers(*market, **args)


def test_result_is_deterministic_json_serialisable_and_in_range():
    market = random_walk()
    res = run(market)
    assert res.cost_points == pytest.approx(0.748)
    for h in (3, 6):
        r = res.horizons[h]
        assert 0.25 <= r.k_up <= 6.0 and 0.25 <= r.k_down <= 6.0
        assert 0 < r.score.score <= 1 and r.n_trials == 12 and r.score.n_rows > 600
    text = json.dumps(res.to_dict())
    assert BarrierOptimizationResult.from_dict(json.loads(text)) == res
    assert run(market) == res
    assert res.k_up() == {3: res.horizons[3].k_up, 6: res.horizons[6].k_up}


def test_only_training_rows_reach_the_choice():
    market = random_walk()
    res = run(market)
    cut = int(market[0][700])
    perturbed = [a.copy() for a in market]
    later = perturbed[3] > cut
    rng = np.random.default_rng(5)
    shift = np.cumsum(rng.normal(0, 3.0, later.sum()))
    for j in (4, 5, 6, 7):
        perturbed[j][later] += shift + (10.0 if j == 5 else -10.0 if j == 6 else 0.0)
    perturbed[2][perturbed[0] > cut] = 9.0
    assert run(perturbed) == res


def test_at_bound_uses_five_percent_of_the_log_range():
    lo, hi = 0.25, 6.0
    span = math.log(hi / lo)
    assert _at_bound(lo * math.exp(0.049 * span), lo, hi)
    assert not _at_bound(lo * math.exp(0.051 * span), lo, hi)
    assert _at_bound(hi / math.exp(0.049 * span), lo, hi)
    assert not _at_bound(1.0, lo, hi)


def test_optimum_on_a_bound_is_flagged_and_symmetric_mode_ties_k():
    market = random_walk()
    # barriers of 3-6 ATR over 30 minutes: nearly all labels neutral, so the score falls with k
    res = run(market, k_range=(3.0, 6.0), symmetric=True, horizons=[6], n_trials=40)
    r = res.horizons[6]
    assert r.k_up == r.k_down
    assert r.k_up_at_bound and res.any_at_bound
    assert r.k_up < 3.2


def test_bad_configuration_is_rejected():
    market = random_walk()
    with pytest.raises(ConfigError, match="k_range"):
        run(market, k_range=(2.0, 1.0))
    with pytest.raises(ConfigError, match="n_trials"):
        run(market, n_trials=0)
    with pytest.raises(ConfigError, match="malformed"):
        BarrierOptimizationResult.from_dict({"horizons": {}})
