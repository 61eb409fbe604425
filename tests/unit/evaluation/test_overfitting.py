"""Deflated Sharpe ratio and PBO: the papers' numbers, a slow reference, and RiskLabAI as an oracle."""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pytest
from scipy.stats import kurtosis, norm, rankdata, skew

from mlfactory.errors import ConfigError, DataError
from mlfactory.evaluation.overfitting import (
    deflated_sharpe_ratio,
    expected_maximum_sharpe_ratio,
    probabilistic_sharpe_ratio,
    probability_of_backtest_overfitting,
    sharpe_ratio_moments,
)


def test_expected_maximum_matches_the_papers():
    # Bailey, Borwein, López de Prado & Zhu (2014), Notices AMS: E[max] of 10 unit-variance trials ≈ 1.57
    assert expected_maximum_sharpe_ratio(10, 1.0) == pytest.approx(1.575, abs=5e-4)
    z = (1 - np.euler_gamma) * norm.ppf(1 - 1 / 100) + np.euler_gamma * norm.ppf(1 - 1 / (100 * math.e))
    assert expected_maximum_sharpe_ratio(100, 4.0, mean_trials_sr=0.1) == pytest.approx(0.1 + 2.0 * z)
    assert expected_maximum_sharpe_ratio(1, 4.0, mean_trials_sr=0.3) == 0.3  # no selection with one trial


def test_expected_maximum_close_to_monte_carlo():
    rng = np.random.default_rng(0)
    simulated = rng.standard_normal((4000, 100)).max(axis=1).mean()
    assert expected_maximum_sharpe_ratio(100, 1.0) == pytest.approx(simulated, rel=0.03)


def test_deflated_sharpe_paper_example():
    """Bailey & López de Prado (2014), numerical example: N = 100 trials, annualised V[SR] = 1/2,
    best annualised SR = 2.5 over 5 years of daily returns (T = 1250, 250 days a year),
    skewness -3, kurtosis 10. The paper finds SR0 ≈ 0.1132 per day and DSR ≈ 0.9004."""
    sr = 2.5 / math.sqrt(250)
    sr0 = expected_maximum_sharpe_ratio(100, 0.5 / 250)
    assert sr0 == pytest.approx(0.1132, abs=1e-4)
    # by hand: z = (0.158114 - 0.113172) × sqrt(1249) / sqrt(1 + 3 × 0.158114 + 9/4 × 0.158114²) = 1.2838
    z = (sr - sr0) * math.sqrt(1249) / math.sqrt(1 + 3 * sr + 9 / 4 * sr**2)
    assert z == pytest.approx(1.2838, abs=1e-4)
    dsr = deflated_sharpe_ratio(sr, n_trials=100, var_trials_sr=0.5 / 250, n_obs=1250, skew=-3, kurt=10)
    assert dsr == pytest.approx(0.9004, abs=5e-4)
    assert dsr == pytest.approx(norm.cdf(z))


def test_psr_normal_returns_by_hand():
    # skew 0, kurt 3: PSR = Φ((SR - SR*) sqrt(T-1) / sqrt(1 + SR²/2))
    expected = norm.cdf((0.1 - 0.0) * math.sqrt(99) / math.sqrt(1 + 0.01 / 2))
    assert probabilistic_sharpe_ratio(0.1, 0.0, 100, 0.0, 3.0) == pytest.approx(expected)
    assert probabilistic_sharpe_ratio(0.05, 0.05, 500, -1.0, 6.0) == pytest.approx(0.5)


def test_dsr_matches_risklabai():
    psr_mod = pytest.importorskip("RiskLabAI.backtest.probabilistic_sharpe_ratio")
    tso = pytest.importorskip("RiskLabAI.backtest.test_set_overfitting")
    rng = np.random.default_rng(3)
    for _ in range(20):
        n_trials = int(rng.integers(2, 500))
        var = float(rng.uniform(1e-4, 1e-2))
        sr, t = float(rng.uniform(-0.1, 0.3)), int(rng.integers(50, 5000))
        sk, ku = float(rng.uniform(-2, 1)), float(rng.uniform(3, 12))
        sr0 = tso.expected_max_sharpe_ratio(n_trials, 0.0, math.sqrt(var))
        assert expected_maximum_sharpe_ratio(n_trials, var) == pytest.approx(sr0, rel=1e-9)
        expected = psr_mod.probabilistic_sharpe_ratio(sr, sr0, t, sk, ku)
        assert deflated_sharpe_ratio(sr, n_trials, var, t, sk, ku) == pytest.approx(
            expected, rel=1e-7, abs=1e-12
        )


def test_sharpe_ratio_moments():
    r = np.random.default_rng(4).standard_t(5, size=2000) * 0.01 + 0.001
    m = sharpe_ratio_moments(r)
    assert m["sr"] == pytest.approx(r.mean() / r.std(ddof=1))
    assert m["skew"] == pytest.approx(skew(r)) and m["kurt"] == pytest.approx(kurtosis(r, fisher=False))
    assert m["n_obs"] == 2000


def test_dsr_rejects_impossible_moments():
    with pytest.raises(DataError, match="kurt"):
        deflated_sharpe_ratio(1.0, 10, 0.01, 100, skew=2.0, kurt=0.5)
    with pytest.raises(DataError, match="n_trials"):
        deflated_sharpe_ratio(0.1, 0, 0.01, 100, 0.0, 3.0)
    with pytest.raises(DataError, match="n_obs"):
        deflated_sharpe_ratio(0.1, 10, 0.01, 1, 0.0, 3.0)


def _slow_pbo(m: np.ndarray, s: int):
    """Itertools loop over every half of the partitions, scipy ranks: obviously-correct CSCV."""
    t, n = m.shape
    m = m[t % s :]
    parts = np.split(m, s)
    sharpe = lambda x: x.mean(axis=0) / x.std(axis=0, ddof=1)  # noqa: E731
    logits, is_best, oos_best = [], [], []
    for train in combinations(range(s), s // 2):
        test = [i for i in range(s) if i not in train]
        r_is = sharpe(np.concatenate([parts[i] for i in train]))
        r_oos = sharpe(np.concatenate([parts[i] for i in test]))
        star = int(np.argmax(r_is))
        omega = rankdata(r_oos)[star] / (n + 1)
        logits.append(math.log(omega / (1 - omega)))
        is_best.append(r_is[star])
        oos_best.append(r_oos[star])
    logits = np.array(logits)
    pbo = sum(1.0 if lam < -1e-12 else 0.5 if abs(lam) <= 1e-12 else 0.0 for lam in logits) / len(logits)
    return pbo, logits, np.array(is_best), np.array(oos_best)


@pytest.mark.parametrize(("t", "n", "s", "skill"), [(240, 8, 6, 0.0), (1003, 20, 8, 0.0), (800, 12, 8, 0.15)])
def test_pbo_matches_slow_reference(t, n, s, skill):
    rng = np.random.default_rng(t + n)
    m = rng.normal(0.0, 1.0, (t, n))
    m[:, 0] += skill  # one configuration with real edge
    res = probability_of_backtest_overfitting(m, s)
    pbo, logits, is_best, oos_best = _slow_pbo(m, s)
    assert res.pbo == pytest.approx(pbo)
    np.testing.assert_allclose(res.logits, logits, atol=1e-9)
    np.testing.assert_allclose(res.is_performance, is_best, atol=1e-9)
    np.testing.assert_allclose(res.oos_performance, oos_best, atol=1e-9)
    assert res.n_combinations == math.comb(s, s // 2) == logits.shape[0]
    slope, intercept = np.polyfit(is_best, oos_best, 1)
    assert res.degradation_slope == pytest.approx(slope) and res.degradation_intercept == pytest.approx(
        intercept
    )
    assert res.prob_oos_loss == pytest.approx((oos_best < 0).mean())


def test_pbo_matches_risklabai():
    rl = pytest.importorskip("RiskLabAI.backtest.probability_of_backtest_overfitting")
    rng = np.random.default_rng(9)
    m = rng.normal(0.0, 0.01, (1600, 25))
    pbo, logits = rl.probability_of_backtest_overfitting(m, n_partitions=8)
    res = probability_of_backtest_overfitting(m, 8)
    np.testing.assert_allclose(res.logits, logits, atol=1e-9)
    # RiskLabAI counts λ = 0 (the IS winner exactly at the OOS median) as overfit; we count it one half
    assert res.pbo == pytest.approx(pbo - 0.5 * np.isclose(logits, 0.0).mean())


def test_pbo_tie_rule_differs_from_risklabai_only_on_the_median():
    # N = 3: RiskLabAI counts λ = 0 (OOS rank 2 of 3) as overfit, we count it one half
    rl = pytest.importorskip("RiskLabAI.backtest.probability_of_backtest_overfitting")
    m = np.random.default_rng(12).normal(0.0, 0.01, (480, 3))
    pbo_rl, logits = rl.probability_of_backtest_overfitting(m, n_partitions=8)
    res = probability_of_backtest_overfitting(m, 8)
    np.testing.assert_allclose(res.logits, logits, atol=1e-9)
    at_median = np.isclose(logits, 0.0)
    assert at_median.any()
    assert res.pbo == pytest.approx(pbo_rl - 0.5 * at_median.mean())


@pytest.mark.parametrize("n", [3, 5, 10])
def test_pbo_null_is_one_half_for_small_candidate_counts(n):
    # under the null (no configuration has skill) the IS winner's OOS rank is uniform: E[PBO] = 0.5
    rng = np.random.default_rng(100 + n)
    pbos = [probability_of_backtest_overfitting(rng.normal(0.0, 1.0, (160, n)), 8).pbo for _ in range(300)]
    assert np.mean(pbos) == pytest.approx(0.5, abs=0.05)


def test_pbo_hand_example_with_mean_metric():
    # two configurations, two blocks of two rows: A wins block 0 and loses block 1, B is steady
    m = np.array([[2.0, 1.0], [2.0, 1.0], [0.0, 1.0], [0.0, 1.0]])
    res = probability_of_backtest_overfitting(m, 2, metric="mean")
    # IS block 0 → A (2 > 1), OOS block 1: A=0 < B=1 → rank 1 of 2, ω = 1/3, λ = ln(1/2)
    # IS block 1 → B (1 > 0), OOS block 0: B=1 < A=2 → rank 1 of 2, λ = ln(1/2)
    np.testing.assert_allclose(res.logits, [math.log(0.5), math.log(0.5)])
    assert res.pbo == 1.0
    np.testing.assert_array_equal(res.best_config, [0, 1])
    np.testing.assert_allclose(res.is_performance, [2.0, 1.0])
    np.testing.assert_allclose(res.oos_performance, [0.0, 1.0])
    assert res.degradation_slope == pytest.approx(-1.0) and res.degradation_intercept == pytest.approx(2.0)


def test_pbo_is_zero_for_a_dominant_configuration():
    rng = np.random.default_rng(1)
    m = rng.normal(0.0, 1.0, (800, 3))
    m[:, 2] += 5.0  # always best, in and out of sample
    res = probability_of_backtest_overfitting(m, 8)
    assert res.pbo == 0.0
    np.testing.assert_allclose(res.logits, math.log(3))  # OOS rank 3 of 3 → ω = 3/4
    assert (res.best_config == 2).all() and res.prob_oos_loss == 0.0


def test_pbo_near_half_for_pure_noise():
    rng = np.random.default_rng(2)
    res = probability_of_backtest_overfitting(rng.normal(0.0, 1.0, (2000, 50)), 10)
    assert 0.2 < res.pbo < 0.8


def test_pbo_bad_inputs():
    m = np.zeros((100, 4))
    with pytest.raises(ConfigError, match="n_partitions"):
        probability_of_backtest_overfitting(m, 7)
    with pytest.raises(ConfigError, match="metric"):
        probability_of_backtest_overfitting(m, 4, metric="sortino")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="perf_matrix"):
        probability_of_backtest_overfitting(np.zeros((100, 1)), 4)
    with pytest.raises(DataError, match="too few"):
        probability_of_backtest_overfitting(np.zeros((3, 4)), 4)
