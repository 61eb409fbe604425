"""Sharpe standard error (Lo/Mertens) and moving-block bootstrap interval: by hand, by simulation,
against a slow loop and against RiskLabAI."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import kurtosis, skew

from mlfactory.errors import DataError
from mlfactory.evaluation import backtest, trading_metrics
from mlfactory.evaluation.sharpe_intervals import (
    block_bootstrap_sharpe_interval,
    block_bootstrap_sharpes,
    bootstrap_block_length,
    format_sharpe,
    returns_sharpe_standard_error,
    sharpe_standard_error,
    sharpe_uncertainty,
)


def test_standard_error_normal_returns_by_hand():
    # skew 0, Pearson kurtosis 3: SE = sqrt((1 + SR²/2) / (T - 1))
    assert sharpe_standard_error(0.1, 101, 0.0, 3.0) == pytest.approx(math.sqrt((1 + 0.005) / 100))
    assert sharpe_standard_error(0.0, 5, -2.0, 20.0) == pytest.approx(0.5)  # SR 0: moments drop out
    # negative skew and fat tails widen it: 1 + 3·0.2 + (10-1)/4·0.04 = 1.69
    assert sharpe_standard_error(0.2, 1250, -3.0, 10.0) == pytest.approx(1.3 / math.sqrt(1249))


def test_standard_error_matches_risklabai():
    psr = pytest.importorskip("RiskLabAI.backtest.probabilistic_sharpe_ratio")
    rng = np.random.default_rng(5)
    for _ in range(20):
        sr, t = float(rng.uniform(0.01, 0.3)), int(rng.integers(30, 3000))
        sk, ku = float(rng.uniform(-2, 1)), float(rng.uniform(3, 12))
        z = psr.probabilistic_sharpe_ratio(sr, 0.0, t, sk, ku, return_test_statistic=True)
        assert sharpe_standard_error(sr, t, sk, ku) == pytest.approx(sr / z, rel=1e-9)


def test_standard_error_close_to_the_simulated_spread_of_fat_tailed_sharpes():
    rng = np.random.default_rng(6)
    t = 400
    samples = rng.standard_t(5, size=(3000, t)) * 0.01 + 0.002  # true SR ≈ 0.155, kurtosis 9
    srs = samples.mean(axis=1) / samples.std(axis=1, ddof=1)
    pooled = samples.ravel()
    sr = pooled.mean() / pooled.std()
    se = sharpe_standard_error(sr, t, float(skew(pooled)), float(kurtosis(pooled, fisher=False)))
    assert se == pytest.approx(srs.std(), rel=0.08)


def test_returns_standard_error_uses_the_series_moments():
    r = np.random.default_rng(7).lognormal(0.0, 0.5, 300) - 1.1
    sr = r.mean() / r.std(ddof=1)
    expected = sharpe_standard_error(sr, 300, float(skew(r)), float(kurtosis(r, fisher=False)))
    assert returns_sharpe_standard_error(r) == pytest.approx(expected)
    assert returns_sharpe_standard_error(np.zeros(50)) == 0.0


def _slow_block_bootstrap(r: np.ndarray, block: int, n_resamples: int, seed: int) -> np.ndarray:
    """One resample at a time: concatenate ``r[s : s + block]`` for each drawn start, cut to ``T``."""
    rng = np.random.default_rng(seed)
    t = r.shape[0]
    n_blocks = -(-t // block)
    starts = rng.integers(0, t - block + 1, size=(n_resamples, n_blocks))
    out = []
    for row in starts:
        x = np.concatenate([r[s : s + block] for s in row])[:t]
        out.append(x.mean() / x.std(ddof=1) if x.std() > 0 else 0.0)
    return np.array(out)


@pytest.mark.parametrize(("t", "block"), [(50, 1), (101, 7), (64, 64)])
def test_block_bootstrap_matches_slow_loop(t, block):
    r = np.random.default_rng(t).normal(0.001, 0.01, t)
    fast = block_bootstrap_sharpes(r, block, n_resamples=40, seed=3)
    np.testing.assert_allclose(fast, _slow_block_bootstrap(r, block, 40, 3), rtol=1e-8)


def test_block_bootstrap_of_a_sparse_series_matches_the_loop():
    # a strategy that is mostly flat: many resamples hold only zeros and must give Sharpe 0, not noise
    r = np.zeros(120)
    r[[5, 6, 70]] = [0.01, -0.004, 0.002]
    fast = block_bootstrap_sharpes(r + 0.0, 4, n_resamples=200, seed=1)
    np.testing.assert_allclose(fast, _slow_block_bootstrap(r, 4, 200, 1), rtol=1e-7, atol=1e-9)
    assert (fast == 0).any()


def test_block_bootstrap_is_seeded_and_chunking_does_not_change_it(monkeypatch):
    r = np.random.default_rng(1).normal(0.0, 1.0, 200)
    a = block_bootstrap_sharpe_interval(r, 5, seed=11)
    assert a == block_bootstrap_sharpe_interval(r, 5, seed=11)
    assert a != block_bootstrap_sharpe_interval(r, 5, seed=12)
    whole = block_bootstrap_sharpes(r, 5, n_resamples=30, seed=2)
    import mlfactory.evaluation.sharpe_intervals as su

    monkeypatch.setattr(su, "_MAX_CELLS", 1000)  # 5 resamples per chunk
    np.testing.assert_allclose(block_bootstrap_sharpes(r, 5, n_resamples=30, seed=2), whole)


def test_block_bootstrap_interval_covers_the_true_sharpe():
    # AR(1) returns (φ = 0.5) with true mean/std = 0.1: the 95 % interval covers it about 95 % of the time
    rng = np.random.default_rng(8)
    t, phi, hits, reps = 600, 0.5, 0, 150
    for i in range(reps):
        e = rng.normal(0.0, 1.0, t + 50)
        x = np.zeros_like(e)
        for k in range(1, e.shape[0]):
            x[k] = phi * x[k - 1] + e[k]
        r = x[50:] + 0.1 / math.sqrt(1 - phi**2)  # stationary std = 1 / sqrt(1 - φ²)
        lo, hi = block_bootstrap_sharpe_interval(r, bootstrap_block_length(t, 10), n_resamples=300, seed=i)
        hits += lo <= 0.1 <= hi
    assert 0.85 <= hits / reps <= 0.99


def test_block_length_follows_the_horizon():
    assert bootstrap_block_length(1000, None) == 10  # ⌈1000^(1/3)⌉
    assert bootstrap_block_length(1000, 24) == 24
    assert bootstrap_block_length(20, 60) == 20


def test_bad_inputs():
    with pytest.raises(DataError, match="n_obs"):
        sharpe_standard_error(0.1, 1, 0.0, 3.0)
    with pytest.raises(DataError, match="kurt"):
        sharpe_standard_error(1.0, 100, 2.0, 0.5)
    with pytest.raises(DataError, match="block_length"):
        block_bootstrap_sharpes(np.ones(10), 11)
    with pytest.raises(DataError, match="finite"):
        block_bootstrap_sharpes(np.array([1.0, np.nan, 2.0]), 1)


def test_annualised_consistently():
    r = np.random.default_rng(9).normal(0.0005, 0.01, 500)
    u = sharpe_uncertainty(r, 10_000.0, horizon=3, seed=0)
    assert u["sharpe_se"] == pytest.approx(returns_sharpe_standard_error(r) * 100.0)
    lo, hi = block_bootstrap_sharpe_interval(r, u["sharpe_bootstrap_block"], seed=0)
    assert (u["sharpe_ci_low"], u["sharpe_ci_high"]) == pytest.approx((lo * 100.0, hi * 100.0))
    assert u["sharpe_bootstrap_block"] == 8


def test_trading_metrics_carry_the_uncertainty(instrument, random_bars):
    rng = np.random.default_rng(10)
    ts, open_, close = random_bars(rng, 400)
    sig = rng.choice([-1.0, 0.0, 1.0], size=80)
    res = backtest(ts[::5], sig, ts, open_, close, instrument, holding="horizon", horizon=5)
    m = trading_metrics(res, 70_000.0)
    assert m["sharpe_se"] == pytest.approx(returns_sharpe_standard_error(res.returns) * math.sqrt(70_000.0))
    assert m["sharpe_ci_low"] < m["sharpe"] < m["sharpe_ci_high"]
    assert m["sharpe_bootstrap_block"] == 8  # ⌈400^(1/3)⌉ > horizon 5
    assert m == trading_metrics(res, 70_000.0)  # seeded


def test_format_sharpe():
    m = {"sharpe": 1.234, "sharpe_se": 0.449, "sharpe_ci_low": 0.4, "sharpe_ci_high": 2.1}
    assert format_sharpe(m) == "1.23 ± 0.45 [0.40, 2.10]"
    assert format_sharpe({"sharpe": 1.0}) == "1.00"
    assert format_sharpe({}) == "n/a"
    assert format_sharpe({"sharpe": float("inf"), "sharpe_se": float("nan")}) == "∞ ± n/a"


def test_a_run_without_costs_says_so_beside_the_sharpe():
    from mlfactory.evaluation.sharpe_intervals import format_sharpe

    m = {"sharpe": 1.0, "sharpe_se": 0.5, "sharpe_ci_low": 0.1, "sharpe_ci_high": 1.9}
    assert "no costs" not in format_sharpe(m | {"costs": "modelled"})
    assert format_sharpe(m | {"costs": "none"}).endswith("(no costs)")
