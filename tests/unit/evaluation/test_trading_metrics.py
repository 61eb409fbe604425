"""Trading metrics: annualisation from the session, and the hand example's Sharpe, Sortino, drawdown."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from mlfactory.data.instruments import get_instrument
from mlfactory.errors import DataError
from mlfactory.evaluation.backtest import backtest
from mlfactory.evaluation.summary import always_flat, buy_and_hold, trading_report
from mlfactory.evaluation.trading_metrics import (
    infer_bar_minutes,
    max_drawdown,
    periods_per_year,
    safe_ratio,
    trading_metrics,
)

ES_5M_PERIODS = 252 * 1380 / 5  # CME Globex: 23 h a day, 252 days → 69,552 five-minute bars a year


def test_periods_per_year_uses_the_session(instrument):
    assert periods_per_year(instrument, 5) == pytest.approx(69_552)
    assert periods_per_year(instrument, 60) == pytest.approx(252 * 23)
    assert periods_per_year(instrument, 1440) == pytest.approx(252)  # one daily bar per trading day
    crypto = get_instrument("BTCX", tick_size=1.0, point_value=1.0, session="crypto_24x7")
    assert periods_per_year(crypto, 60) == pytest.approx(365.25 * 24)
    with pytest.raises(DataError, match="bar_minutes"):
        periods_per_year(instrument, 0)


def test_infer_bar_minutes(hand_bars):
    ts, _, _ = hand_bars
    assert infer_bar_minutes(ts) == 5.0
    with pytest.raises(DataError, match="bar_ts"):
        infer_bar_minutes(ts[:1])


def _hand_result(instrument, hand_bars):
    ts, open_, close = hand_bars
    return backtest(
        ts[[0, 3, 5]], np.array([1.0, -1.0, 0.0]), ts, open_, close, instrument, holding="until_next_signal"
    )


def test_hand_example_metrics(instrument, hand_bars):
    """Per-bar returns written out by hand (P&L in points ÷ previous close), then the textbook formulas."""
    m = trading_metrics(_hand_result(instrument, hand_bars), ES_5M_PERIODS)
    r = [0.0, 0.65 / 101, -0.5 / 102, 1.5 / 101.5, 0.3 / 103, 2.0 / 102, -0.35 / 100, 0.0]
    mean, sd = statistics.mean(r), statistics.stdev(r)
    downside = math.sqrt(((0.5 / 102) ** 2 + (0.35 / 100) ** 2) / 8)
    assert m["total_pnl_points"] == pytest.approx(3.6)
    assert m["total_pnl_currency"] == pytest.approx(180.0)
    assert m["total_costs_currency"] == pytest.approx(4 * 0.35 * 50)  # 4 sides × 17.50 USD
    assert m["annualised_return"] == pytest.approx(mean * 69_552)
    assert m["sharpe"] == pytest.approx(mean / sd * math.sqrt(69_552))
    assert m["sortino"] == pytest.approx(mean / downside * math.sqrt(69_552))
    # equity peaks after bar 1 (0.65/101) and drops 0.5/102 on bar 2: the deepest drawdown
    assert m["max_drawdown"] == pytest.approx(0.5 / 102)
    assert m["max_drawdown_currency"] == pytest.approx(25.0)
    # the longest time under water: bars 6 and 7 (after the bar-5 peak), 10 minutes of calendar time
    assert m["max_drawdown_duration_bars"] == 2
    assert m["max_drawdown_duration_days"] == pytest.approx(10 / 1440)
    assert m["calmar"] == pytest.approx(mean * 69_552 / (0.5 / 102))
    assert m["trade_count"] == 2
    assert m["win_rate"] == 1.0
    assert m["profit_factor"] == math.inf  # no losing trade
    assert m["average_trade_points"] == pytest.approx(1.8)
    assert m["average_trade_currency"] == pytest.approx(90.0)
    assert m["contracts_traded"] == pytest.approx(4.0)
    assert m["turnover_per_year"] == pytest.approx(4 / 8 * 69_552)
    assert m["exposure"] == pytest.approx(5 / 8)


def test_baselines(instrument, hand_bars):
    res = _hand_result(instrument, hand_bars)
    bh = buy_and_hold(res)
    np.testing.assert_array_equal(bh.position, [0, 1, 1, 1, 1, 1, 1, 1])
    # long at bar 1's open (101), closed at the last close (101): only the round-trip cost remains
    assert bh.pnl_points.sum() == pytest.approx(-0.7)
    flat = trading_metrics(always_flat(res), ES_5M_PERIODS)
    assert flat["total_pnl_currency"] == 0 and flat["trade_count"] == 0
    assert flat["sharpe"] == 0.0 and flat["sortino"] == 0.0 and flat["calmar"] == 0.0
    assert flat["max_drawdown"] == 0.0 and flat["exposure"] == 0.0 and flat["profit_factor"] == 0.0


def test_trading_report_sections_add_up(instrument, random_bars):
    rng = np.random.default_rng(2)
    ts, open_, close = random_bars(rng, 600)  # 50 hours of 5-minute bars: every session appears
    sig = rng.choice([-1.0, 0.0, 1.0], size=600)
    res = backtest(ts, sig, ts, open_, close, instrument, holding="horizon", horizon=3)
    regime = np.where(np.arange(600) < 300, "calm", "wild")
    rep = trading_report(res, regime=regime)
    assert rep["bar_minutes"] == 5.0 and rep["periods_per_year"] == pytest.approx(ES_5M_PERIODS)
    assert set(rep) >= {"strategy", "buy_and_hold", "always_flat", "by_session", "by_regime"}
    assert set(rep["by_session"]) == {"asia", "europe", "us"}
    for section in ("by_session", "by_regime"):
        groups = rep[section].values()
        assert sum(g["n_bars"] for g in groups) == 600
        assert sum(g["total_pnl_points"] for g in groups) == pytest.approx(
            rep["strategy"]["total_pnl_points"]
        )
        assert sum(g["trade_count"] for g in groups) == rep["strategy"]["trade_count"]
    assert rep["by_regime"]["calm"]["total_pnl_points"] == pytest.approx(res.pnl_points[:300].sum())


def test_max_drawdown_hand_curve():
    ts = np.arange(6, dtype=np.int64) * 86_400 * 10**9
    dd = max_drawdown(np.array([1.0, 3.0, 2.0, 0.5, 3.5, 3.0]), ts)
    assert dd["max_drawdown"] == pytest.approx(2.5)  # 3.0 → 0.5
    assert dd["duration_bars"] == 2  # below 3.0 on bars 2 and 3, recovered on bar 4
    assert dd["duration_days"] == pytest.approx(3.0)  # peak on day 1, recovery on day 4
    assert max_drawdown(np.array([-1.0, 0.5]))["max_drawdown"] == pytest.approx(1.0)  # from the origin 0


def test_safe_ratio():
    assert safe_ratio(1.0, 2.0) == 0.5
    assert safe_ratio(0.0, 0.0) == 0.0
    assert safe_ratio(-1.0, 0.0) == -math.inf
