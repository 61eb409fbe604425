"""Backtest: a hand-computed example, costs on every change, zero signal, leakage, and a slow reference."""

from __future__ import annotations

import numpy as np
import pytest

from mlfactory.errors import ConfigError, DataError
from mlfactory.evaluation.backtest import backtest, cost_per_side_points

CPS = 0.35  # points per side per contract for the `instrument` fixture


def test_cost_per_side_from_instrument(instrument):
    # 5.00 USD commission / 50 USD per point + 1 tick × 0.25 points
    assert cost_per_side_points(instrument) == pytest.approx(0.10 + 0.25)


def test_hand_example_until_next_signal(instrument, hand_bars):
    ts, open_, close = hand_bars
    # long decided at bar 0's close, flip short at bar 3's close, flat at bar 5's close
    res = backtest(
        ts[[0, 3, 5]], np.array([1.0, -1.0, 0.0]), ts, open_, close, instrument, holding="until_next_signal"
    )
    np.testing.assert_array_equal(res.position, [0, 1, 1, 1, -1, -1, 0, 0])
    # bar k earns prev_pos × (open_k − close_{k−1}) + pos_k × (close_k − open_k) − |Δpos_k| × 0.35
    expected_costs = [0, 0.35, 0, 0, 0.70, 0, 0.35, 0]  # entry 1 side, flip 2 sides, exit 1 side
    expected_pnl = [
        0.0,
        1 * (102 - 101) - 0.35,  # 0.65: filled long at open 101
        1 * (102.5 - 102) + 1 * (101.5 - 102.5),  # -0.5: gap up, then down
        1 * (101.5 - 101.5) + 1 * (103 - 101.5),  # 1.5
        1 * (103 - 103) + -1 * (102 - 103) - 0.70,  # 0.3: flip at open 103
        -1 * (101 - 102) + -1 * (100 - 101),  # 2.0: short gains on the gap and the bar
        -1 * (100 - 100) - 0.35,  # -0.35: covered at open 100
        0.0,
    ]
    np.testing.assert_allclose(res.costs_points, expected_costs)
    np.testing.assert_allclose(res.pnl_points, expected_pnl)
    assert res.pnl_points.sum() == pytest.approx(3.6)
    assert res.pnl_currency.sum() == pytest.approx(3.6 * 50)
    np.testing.assert_allclose(res.equity_currency[-1], 180.0)
    # returns relative to one contract's notional at the previous close (open of bar 0 for bar 0)
    ref = np.array([100, 101, 102, 101.5, 103, 102, 100, 100.5])
    np.testing.assert_allclose(res.returns, np.array(expected_pnl) / ref)

    tr = res.trades
    assert len(tr) == 2
    np.testing.assert_array_equal(tr.side, [1, -1])
    np.testing.assert_array_equal(tr.entry_index, [1, 4])
    np.testing.assert_array_equal(tr.exit_index, [4, 6])
    np.testing.assert_array_equal(tr.entry_ts, ts[[1, 4]])
    np.testing.assert_array_equal(tr.exit_ts, ts[[4, 6]])
    np.testing.assert_allclose(tr.entry_price, [101, 103])
    np.testing.assert_allclose(tr.exit_price, [103, 100])
    np.testing.assert_allclose(tr.costs_points, [0.70, 0.70])
    np.testing.assert_allclose(tr.pnl_points, [(103 - 101) - 0.7, (103 - 100) - 0.7])  # 1.3, 2.3
    np.testing.assert_allclose(tr.pnl_currency, [65.0, 115.0])
    assert not tr.closed_at_end.any()


def test_hand_example_horizon(instrument, hand_bars):
    ts, open_, close = hand_bars
    # +1 at bar 0 held 2 bars (1, 2); the flat decision at bar 1 does not cut it short;
    # -0.5 at bar 4 held for bars 5, 6; bar 7 flat again.
    res = backtest(
        ts[[0, 1, 4]], np.array([1.0, 0.0, -0.5]), ts, open_, close, instrument, holding="horizon", horizon=2
    )
    np.testing.assert_array_equal(res.position, [0, 1, 1, 0, 0, -0.5, -0.5, 0])
    np.testing.assert_allclose(res.costs_points, [0, 0.35, 0, 0.35, 0, 0.175, 0, 0.175])
    expected = [
        0.0,
        (102 - 101) - 0.35,
        (102.5 - 102) + (101.5 - 102.5),
        (101.5 - 101.5) - 0.35,  # exit at open 101.5
        0.0,
        -0.5 * (100 - 101) - 0.175,  # short half a contract at open 101
        -0.5 * (100 - 100) + -0.5 * (100.5 - 100),
        -0.5 * (100.5 - 100.5) - 0.175,  # exit at open 100.5
    ]
    np.testing.assert_allclose(res.pnl_points, expected)
    np.testing.assert_allclose(res.trades.pnl_points, [(101.5 - 101) - 0.7, 0.5 * (101 - 100.5) - 0.35])


def test_new_signal_replaces_and_restarts_the_horizon(instrument, hand_bars):
    ts, open_, close = hand_bars
    res = backtest(
        ts[[0, 2]], np.array([1.0, 1.0]), ts, open_, close, instrument, holding="horizon", horizon=2
    )
    np.testing.assert_array_equal(res.position, [0, 1, 1, 1, 1, 0, 0, 0])  # one trade, clock restarted
    assert len(res.trades) == 1
    assert res.costs_points.sum() == pytest.approx(2 * CPS)


def test_costs_charged_on_every_position_change(instrument, random_bars):
    rng = np.random.default_rng(3)
    ts, open_, close = random_bars(rng, 300)
    sig = rng.choice([-1.0, -0.5, 0.0, 0.3, 1.0], size=300)
    res = backtest(ts, sig, ts, open_, close, instrument, holding="until_next_signal")
    delta = np.abs(np.diff(np.concatenate(([0.0], res.position))))
    delta[-1] += abs(res.position[-1])  # an open position is closed at the last close
    np.testing.assert_allclose(res.costs_points, delta * CPS)
    assert (res.costs_points[delta > 0] > 0).all()
    # the same positions without costs earn exactly the costs more
    free = backtest(
        ts,
        sig,
        ts,
        open_,
        close,
        instrument.model_copy(update={"commission_per_side": 0.0, "slippage_ticks": 0.0}),
        holding="until_next_signal",
    )
    np.testing.assert_allclose(free.pnl_points - res.pnl_points, res.costs_points)


def test_flip_costs_two_sides(instrument, hand_bars):
    ts, open_, close = hand_bars
    res = backtest(
        ts[[0, 1]], np.array([1.0, -1.0]), ts, open_, close, instrument, holding="until_next_signal"
    )
    assert res.costs_points[2] == pytest.approx(2 * CPS)
    assert res.costs_points[-1] == pytest.approx(CPS)  # still short at the end: closed at the last close
    assert res.trades.closed_at_end[-1]
    assert res.trades.exit_price[-1] == close[-1]


def test_zero_signal_has_zero_pnl_and_no_trades(instrument, random_bars):
    ts, open_, close = random_bars(np.random.default_rng(0), 50)
    for holding, horizon in (("until_next_signal", None), ("horizon", 3)):
        res = backtest(ts, np.zeros(50), ts, open_, close, instrument, holding=holding, horizon=horizon)
        assert (res.position == 0).all()
        assert (res.pnl_points == 0).all() and (res.costs_points == 0).all() and (res.returns == 0).all()
        assert len(res.trades) == 0
    empty = backtest(
        np.empty(0, np.int64), np.empty(0), ts, open_, close, instrument, holding="until_next_signal"
    )
    assert len(empty.trades) == 0 and (empty.pnl_currency == 0).all()


@pytest.mark.parametrize(("holding", "horizon"), [("until_next_signal", None), ("horizon", 4)])
def test_position_depends_only_on_earlier_decisions(instrument, random_bars, holding, horizon):
    """Leakage: perturbing signals decided at or after bar t leaves positions and P&L up to bar t unchanged."""
    rng = np.random.default_rng(11)
    n = 200
    ts, open_, close = random_bars(rng, n)
    dec = np.sort(rng.choice(n, size=80, replace=False))
    sig = rng.choice([-1.0, -0.4, 0.0, 0.7, 1.0], size=80)
    base = backtest(ts[dec], sig, ts, open_, close, instrument, holding=holding, horizon=horizon)
    for j in (0, 10, 40, 79):
        t = dec[j]  # the bar at whose close decision j is taken
        perturbed = sig.copy()
        perturbed[j:] = np.where(sig[j:] == 0, 1.0, -sig[j:])
        alt = backtest(ts[dec], perturbed, ts, open_, close, instrument, holding=holding, horizon=horizon)
        np.testing.assert_array_equal(alt.position[: t + 1], base.position[: t + 1])
        np.testing.assert_array_equal(alt.pnl_points[: t + 1], base.pnl_points[: t + 1])
        if t + 1 < n:
            assert alt.position[t + 1] == perturbed[j]  # the perturbation does reach the next bar
    # future prices do not move past positions either
    bumped = close.copy()
    bumped[120:] += 50.0
    alt = backtest(ts[dec], sig, ts, open_, bumped, instrument, holding=holding, horizon=horizon)
    np.testing.assert_array_equal(alt.position, base.position)
    np.testing.assert_array_equal(alt.pnl_points[:120], base.pnl_points[:120])


def _slow_backtest(dec_idx, sig, open_, close, cps, holding, horizon):
    """Bar-by-bar state machine and cash accounting: an independent formulation of the same rules."""
    n = open_.shape[0]
    fills = {int(d) + 1: float(s) for d, s in zip(dec_idx, sig, strict=True) if d + 1 < n}
    pos = np.zeros(n)
    current, remaining = 0.0, 0
    for k in range(n):
        if k in fills:
            if holding == "until_next_signal":
                current = fills[k]
            elif fills[k] != 0:
                current, remaining = fills[k], horizon
        if holding == "horizon":
            pos[k] = current if remaining > 0 else 0.0
            remaining = max(remaining - 1, 0)
        else:
            pos[k] = current
    pnl = np.zeros(n)
    cash, prev_eq, prev_pos = 0.0, 0.0, 0.0
    for k in range(n):
        delta = pos[k] - prev_pos
        cash -= delta * open_[k] + abs(delta) * cps
        if k == n - 1:
            cash += pos[k] * close[k] - abs(pos[k]) * cps
            equity = cash
        else:
            equity = cash + pos[k] * close[k]
        pnl[k] = equity - prev_eq
        prev_eq, prev_pos = equity, pos[k]
    return pos, pnl


@pytest.mark.parametrize(
    ("holding", "horizon"), [("until_next_signal", None), ("horizon", 1), ("horizon", 5)]
)
def test_matches_slow_reference(instrument, random_bars, holding, horizon):
    rng = np.random.default_rng(7)
    n = 400
    ts, open_, close = random_bars(rng, n)
    dec = np.sort(rng.choice(n, size=150, replace=False))
    sig = rng.choice([-1.0, -0.25, 0.0, 0.5, 1.0], size=150)
    res = backtest(ts[dec], sig, ts, open_, close, instrument, holding=holding, horizon=horizon)
    pos, pnl = _slow_backtest(dec, sig, open_, close, CPS, holding, horizon)
    np.testing.assert_array_equal(res.position, pos)
    np.testing.assert_allclose(res.pnl_points, pnl, atol=1e-9)
    # trades partition the P&L exactly
    assert res.trades.pnl_points.sum() == pytest.approx(res.pnl_points.sum(), abs=1e-9)
    assert res.trades.costs_points.sum() == pytest.approx(res.costs_points.sum(), abs=1e-12)


def test_trade_pnl_is_fill_to_fill_for_unit_positions(instrument, random_bars):
    rng = np.random.default_rng(5)
    ts, open_, close = random_bars(rng, 300)
    sig = rng.choice([-1.0, 0.0, 1.0], size=300)
    tr = backtest(ts, sig, ts, open_, close, instrument, holding="until_next_signal").trades
    assert len(tr) > 20
    np.testing.assert_allclose(tr.pnl_points, tr.side * (tr.exit_price - tr.entry_price) - 2 * CPS)
    assert (tr.exit_index > tr.entry_index).all() or tr.closed_at_end[-1]


def test_decision_on_last_bar_never_fills(instrument, hand_bars):
    ts, open_, close = hand_bars
    res = backtest(ts[-1:], np.ones(1), ts, open_, close, instrument, holding="until_next_signal")
    assert (res.position == 0).all() and len(res.trades) == 0


def test_fixed_capital_returns(instrument, hand_bars):
    ts, open_, close = hand_bars
    res = backtest(
        ts[:1], np.ones(1), ts, open_, close, instrument, holding="until_next_signal", capital=100_000.0
    )
    np.testing.assert_allclose(res.returns, res.pnl_currency / 100_000.0)
    np.testing.assert_allclose(res.equity_returns, np.cumsum(res.returns))


def test_bad_inputs_fail_with_named_field(instrument, hand_bars):
    ts, open_, close = hand_bars
    with pytest.raises(DataError, match="decision_ts"):
        backtest(ts[:1] + 1, np.ones(1), ts, open_, close, instrument, holding="until_next_signal")
    with pytest.raises(DataError, match="decision_ts"):
        backtest(ts[[2, 1]], np.ones(2), ts, open_, close, instrument, holding="until_next_signal")
    with pytest.raises(DataError, match="signal_positions"):
        backtest(ts[:1], np.array([1.5]), ts, open_, close, instrument, holding="until_next_signal")
    with pytest.raises(DataError, match="bar_close"):
        backtest(ts[:1], np.ones(1), ts, open_, close[:-1], instrument, holding="until_next_signal")
    with pytest.raises(DataError, match="bar_ts"):
        backtest(ts[:1], np.ones(1), ts[::-1], open_, close, instrument, holding="until_next_signal")
    with pytest.raises(ConfigError, match="horizon"):
        backtest(ts[:1], np.ones(1), ts, open_, close, instrument, holding="horizon")
    with pytest.raises(ConfigError, match="horizon"):
        backtest(ts[:1], np.ones(1), ts, open_, close, instrument, holding="until_next_signal", horizon=3)
    with pytest.raises(ConfigError, match="holding"):
        backtest(ts[:1], np.ones(1), ts, open_, close, instrument, holding="forever")  # type: ignore[arg-type]
    negative = close.copy()
    negative[3] = -1.0
    with pytest.raises(DataError, match="capital"):
        backtest(ts[:1], np.ones(1), ts, open_, negative, instrument, holding="until_next_signal")


def test_trades_to_polars(instrument, hand_bars):
    ts, open_, close = hand_bars
    frame = backtest(
        ts[[0, 3]], np.array([1.0, -1.0]), ts, open_, close, instrument, holding="until_next_signal"
    ).trades.to_polars()
    assert frame.height == 2
    assert str(frame.schema["entry_ts"]) == "Datetime(time_unit='ns', time_zone='UTC')"


def test_no_position_is_held_across_a_contract_roll(instrument, hand_bars):
    ts, open_, close = hand_bars
    segment = np.array([0, 0, 0, 0, 1, 1, 1, 1])  # roll between bar 3 and bar 4
    res = backtest(
        ts[[0, 3, 5]],
        np.array([1.0, -1.0, 0.0]),
        ts,
        open_,
        close,
        instrument,
        holding="until_next_signal",
        bar_segment=segment,
    )
    # the long closes at bar 3's close (end of its contract); the short decided on bar 3 never fills
    np.testing.assert_array_equal(res.position, [0, 1, 1, 1, 0, 0, 0, 0])
    expected_pnl = [0.0, 1 - 0.35, 0.5 - 1.0, 1.5 - 0.35, 0.0, 0.0, 0.0, 0.0]
    np.testing.assert_allclose(res.pnl_points, expected_pnl)
    assert len(res.trades) == 1 and res.trades.exit_index[0] == 3 and res.trades.exit_price[0] == 103.0
    assert res.trades.pnl_points[0] == pytest.approx(1.3)
    assert res.returns[4] == 0.0  # the roll bar's return is not referenced to the old contract's close
    np.testing.assert_allclose(res.equity_currency, np.cumsum(res.pnl_currency))


def test_bar_segment_of_the_wrong_length_is_refused(instrument, hand_bars):
    ts, open_, close = hand_bars
    with pytest.raises(DataError, match="bar_segment"):
        backtest(
            ts[:1],
            np.ones(1),
            ts,
            open_,
            close,
            instrument,
            holding="until_next_signal",
            bar_segment=np.zeros(3),
        )
