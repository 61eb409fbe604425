"""Spread and impact estimators against per-window references, RiskLabAI and simulated markets."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mlfactory.errors import DataError
from mlfactory.features.kernels.microstructure import (
    amihud_illiquidity,
    corwin_schultz_spread,
    kyle_lambda,
    roll_spread,
)


def test_roll_spread_matches_serial_covariance_reference(make_bars):
    b = make_bars(150, seed=31)
    w = 12
    dp = np.diff(b["close"])  # dp[k] = close[k+1] - close[k]
    expected = np.full(150, np.nan)
    for i in range(w + 1, 150):
        now = dp[i - w : i]  # Δp_t for t = i-w+1 .. i
        before = dp[i - w - 1 : i - 1]
        cov = np.cov(now, before, ddof=1)[0, 1]
        expected[i] = 2 * math.sqrt(-cov) if cov < 0 else 0.0
    np.testing.assert_allclose(roll_spread(b["close"], w), expected, rtol=1e-9, atol=1e-12)


def test_roll_spread_recovers_a_simulated_bid_ask_bounce():
    rng = np.random.default_rng(32)
    n, spread = 20_000, 0.5
    efficient = 4000 + np.cumsum(rng.normal(0.0, 0.05, n))
    traded = efficient + spread / 2 * rng.choice([-1.0, 1.0], n)
    assert roll_spread(traded, 5000)[-1] == pytest.approx(spread, rel=0.1)


def test_roll_spread_is_zero_when_serial_covariance_is_positive():
    trend = np.cumsum(np.cumsum(np.ones(60)))  # accelerating: Δp increases, positive autocovariance
    assert (roll_spread(trend, 10)[11:] == 0.0).all()


def _corwin_schultz_reference(high, low, window):
    d = 3 - 2 * math.sqrt(2)
    per_bar = [math.nan]
    for t in range(1, len(high)):
        beta = math.log(high[t] / low[t]) ** 2 + math.log(high[t - 1] / low[t - 1]) ** 2
        gamma = math.log(max(high[t], high[t - 1]) / min(low[t], low[t - 1])) ** 2
        alpha = (math.sqrt(2 * beta) - math.sqrt(beta)) / d - math.sqrt(gamma / d)
        per_bar.append(max(0.0, 2 * (math.exp(alpha) - 1) / (1 + math.exp(alpha))))
    out = np.full(len(high), np.nan)
    for i in range(window, len(high)):
        out[i] = np.mean(per_bar[i - window + 1 : i + 1])
    return out


def test_corwin_schultz_matches_reference(make_bars):
    b = make_bars(200, seed=33)
    expected = _corwin_schultz_reference(b["high"], b["low"], 10)
    two_bar = corwin_schultz_spread(b["high"], b["low"], 1)[1:]
    assert (two_bar == 0).any() and (two_bar > 0).any()  # the negative -> 0 rule is exercised
    np.testing.assert_allclose(
        corwin_schultz_spread(b["high"], b["low"], 10), expected, rtol=1e-9, atol=1e-15
    )


def test_corwin_schultz_two_bar_estimate_matches_risklabai(make_bars):
    cs = pytest.importorskip("RiskLabAI.features.microstructural_features.corwin_schultz")
    b = make_bars(200, seed=34)
    # RiskLabAI floors alpha at 0 and averages beta over window_span; with a span of 1 that is the
    # paper's two-bar estimate, i.e. our kernel with a one-bar mean
    theirs = cs.corwin_schultz_estimator(pd.Series(b["high"]), pd.Series(b["low"]), window_span=1).to_numpy()
    np.testing.assert_allclose(corwin_schultz_spread(b["high"], b["low"], 1), theirs, rtol=1e-9, atol=1e-15)


def test_amihud_leaves_zero_volume_bars_out_of_the_mean():
    close = np.array([100.0, 101.0, 100.0, 100.5, 99.0, 99.5, 100.0])
    volume = np.array([10.0, 5.0, 0.0, 4.0, 0.0, 0.0, 0.0])
    r = np.abs(np.diff(np.log(close)))
    with np.errstate(divide="ignore"):
        ratio = r / (close[1:] * volume[1:])  # entries with zero volume are not used below
    out = amihud_illiquidity(close, volume, 3)
    np.testing.assert_array_equal(out[:3], np.nan)
    assert out[3] == pytest.approx((ratio[0] + ratio[2]) / 2)  # bars 1..3, bar 2 did not trade
    assert out[4] == pytest.approx(ratio[2])  # bars 2..4: only bar 3 traded
    assert out[5] == pytest.approx(ratio[2])
    assert np.isnan(out[6])  # bars 4..6: nothing traded -> no defined illiquidity


def test_amihud_matches_reference(make_bars):
    b = make_bars(200, seed=35, zero_volume=0.3)
    w = 8
    expected = np.full(200, np.nan)
    for i in range(w, 200):
        terms = [
            abs(math.log(b["close"][t] / b["close"][t - 1])) / (b["close"][t] * b["volume"][t])
            for t in range(i - w + 1, i + 1)
            if b["volume"][t] > 0
        ]
        expected[i] = np.mean(terms) if terms else np.nan
    np.testing.assert_allclose(amihud_illiquidity(b["close"], b["volume"], w), expected, rtol=1e-9)


def test_negative_volume_is_a_data_error():
    with pytest.raises(DataError, match="volume"):
        amihud_illiquidity(np.ones(5) * 100, np.array([1.0, 2.0, -1.0, 3.0, 4.0]), 2)


def test_kyle_lambda_matches_polyfit_and_recovers_simulated_impact():
    rng = np.random.default_rng(36)
    n, impact = 3000, 0.002
    volume = rng.integers(1, 500, n).astype(float)
    direction = rng.choice([-1.0, 1.0], n)
    close = 4000 + np.cumsum(impact * direction * volume + rng.normal(0, 0.01, n))
    w = 40
    lam = kyle_lambda(close, volume, w)
    dp = np.r_[np.nan, np.diff(close)]
    sv = np.sign(dp) * volume
    for i in (w, 700, n - 1):
        win = slice(i - w + 1, i + 1)
        assert lam[i] == pytest.approx(np.polyfit(sv[win], dp[win], 1)[0], rel=1e-9)
    assert np.nanmedian(lam) == pytest.approx(impact, rel=0.05)


def test_kyle_lambda_is_zero_when_price_never_moves():
    assert (kyle_lambda(np.full(30, 100.0), np.full(30, 7.0), 5)[5:] == 0.0).all()
