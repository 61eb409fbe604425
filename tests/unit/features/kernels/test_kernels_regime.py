"""Regimes: buckets against references; the Hurst exponent on random, persistent and mean-reverting series."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.special import digamma

from mlfactory.errors import ConfigError
from mlfactory.features.kernels.regime import hurst_scales, rolling_hurst, trend_regime, volatility_regime


def test_volatility_regime_buckets_the_trailing_percentile_of_realised_vol(make_bars):
    b = make_bars(300, seed=61)
    vol_w, rank_w = 10, 30
    r = np.diff(np.log(b["close"]))
    expected = np.full(300, np.nan)
    for i in range(vol_w + rank_w - 1, 300):
        vols = [np.std(r[j - vol_w : j], ddof=1) for j in range(i - rank_w + 1, i + 1)]  # vol at bar j
        rank = (np.sum(np.array(vols) < vols[-1]) + 0.5 * (np.sum(np.array(vols) == vols[-1]) - 1)) / (
            rank_w - 1
        )
        expected[i] = 0.0 if rank < 1 / 3 else 1.0 if rank < 2 / 3 else 2.0
    np.testing.assert_array_equal(volatility_regime(b["close"], vol_w, rank_w), expected)


def test_volatility_regime_turns_high_after_a_volatility_burst():
    rng = np.random.default_rng(62)
    r = np.r_[rng.normal(0, 1e-4, 400), rng.normal(0, 1e-2, 60)]
    close = 100 * np.exp(np.cumsum(r))
    regime = volatility_regime(close, 20, 200)
    assert (regime[430:] == 2.0).all()
    assert set(np.unique(regime[250:400])) <= {0.0, 1.0, 2.0}


def test_trend_regime_thresholds_the_slope_tstat(make_bars):
    x = make_bars(250, seed=63)["x"]
    w, thr = 20, 1.5
    expected = np.full(250, np.nan)
    for i in range(w - 1, 250):
        fit = stats.linregress(np.arange(w), x[i - w + 1 : i + 1])
        t = fit.slope / fit.stderr
        expected[i] = 1.0 if t > thr else -1.0 if t < -thr else 0.0
    out = trend_regime(x, w, t_threshold=thr)
    np.testing.assert_array_equal(out, expected)
    assert {-1.0, 0.0, 1.0} <= set(np.unique(out[w:]))


def test_trend_regime_rejects_a_non_positive_threshold():
    with pytest.raises(ConfigError, match="t_threshold"):
        trend_regime(np.arange(50.0), 10, t_threshold=0)


def _hurst_reference(x, window):
    dx = np.diff(x)
    scales = [1]
    while window // (2 * scales[-1]) >= 8:
        scales.append(2 * scales[-1])
    out = np.full(len(x), np.nan)
    for i in range(window, len(x)):
        inc = dx[i - window : i]  # increments x[i-window+1]-x[i-window] ... x[i]-x[i-1]
        log_var = []
        for m in scales:
            nb = window // m
            sums = inc[window - nb * m :].reshape(nb, m).sum(axis=1)
            k = nb - 1
            log_var.append(np.log(np.var(sums, ddof=1)) - (digamma(k / 2) + np.log(2 / k)))
        out[i] = 0.5 * np.polyfit(np.log(scales), log_var, 1)[0]
    return out


def test_hurst_matches_the_block_variance_reference():
    x = np.cumsum(np.random.default_rng(64).normal(size=300))
    np.testing.assert_allclose(rolling_hurst(x, 64), _hurst_reference(x, 64), rtol=1e-9)
    np.testing.assert_array_equal(hurst_scales(64), [1, 2, 4, 8])


def _ar1_level(phi: float, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    e = rng.normal(size=n)
    r = np.empty(n)
    r[0] = e[0]
    for t in range(1, n):
        r[t] = phi * r[t - 1] + e[t]
    return np.cumsum(r)


def test_hurst_is_one_half_for_a_random_walk_and_moves_with_autocorrelation():
    n, w = 20_000, 128
    h_random = np.nanmean(rolling_hurst(_ar1_level(0.0, n, 65), w))
    h_trend = np.nanmean(rolling_hurst(_ar1_level(0.4, n, 66), w))
    h_revert = np.nanmean(rolling_hurst(_ar1_level(-0.4, n, 67), w))
    assert h_random == pytest.approx(0.5, abs=0.03)
    assert h_trend > 0.6
    assert h_revert < 0.4


def test_hurst_of_a_flat_window_is_one_half_and_short_windows_are_rejected():
    assert (rolling_hurst(np.full(80, 4.2), 32)[32:] == 0.5).all()
    with pytest.raises(ConfigError, match="window"):
        rolling_hurst(np.arange(100.0), 16)
