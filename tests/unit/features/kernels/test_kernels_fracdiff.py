"""FFD weights and series against the closed-form recursion, a slow dot product and RiskLabAI."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mlfactory.errors import ConfigError, DataError
from mlfactory.features.kernels.fracdiff import ffd_warmup, ffd_weights, find_min_ffd_d, frac_diff_ffd


def _weights_by_recursion(d, threshold):
    w = [1.0]
    for k in range(1, 10_000):
        nxt = -w[-1] * (d - k + 1) / k
        if abs(nxt) < threshold:
            break
        w.append(nxt)
    return np.array(w)


@pytest.mark.parametrize("d", [0.0, 0.15, 0.4, 0.5, 0.9, 1.0, 1.3])
def test_weights_follow_the_recursion(d):
    np.testing.assert_allclose(ffd_weights(d, 1e-4), _weights_by_recursion(d, 1e-4), rtol=1e-12)


def test_weights_equal_the_binomial_series_and_known_edge_orders():
    d = 0.4
    w = ffd_weights(d, 1e-3)
    binomial = [
        (-1) ** k * math.gamma(d + 1) / (math.gamma(k + 1) * math.gamma(d - k + 1)) for k in range(len(w))
    ]
    np.testing.assert_allclose(w, binomial, rtol=1e-10)
    assert abs(w[-1]) >= 1e-3 > abs(-w[-1] * (d - len(w) + 1) / len(w))  # truncated at the first small weight
    np.testing.assert_array_equal(ffd_weights(0.0), [1.0])  # identity
    np.testing.assert_array_equal(ffd_weights(1.0), [1.0, -1.0])  # first difference


def test_max_width_truncates():
    assert len(ffd_weights(0.3, 1e-6, max_width=25)) == 25
    assert ffd_warmup(0.3, 1e-6, max_width=25) == 24


def test_series_matches_slow_dot_product():
    rng = np.random.default_rng(51)
    x = np.cumsum(rng.normal(size=300))
    d, threshold = 0.35, 1e-3
    w = ffd_weights(d, threshold)
    expected = np.full(300, np.nan)
    for t in range(len(w) - 1, 300):
        expected[t] = np.dot(w, x[t - np.arange(len(w))])
    out = frac_diff_ffd(x, d, threshold)
    assert np.isnan(out[: len(w) - 1]).all() and ffd_warmup(d, threshold) == len(w) - 1
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


def test_series_matches_risklabai():
    diff = pytest.importorskip("RiskLabAI.data.differentiation.differentiation")
    rng = np.random.default_rng(52)
    x = np.log(4000) + np.cumsum(rng.normal(0, 1e-3, 2000))
    for d in (0.2, 0.55):
        theirs_w = diff.calculate_weights_ffd(d, threshold=1e-4).ravel()[::-1]  # theirs: oldest first
        np.testing.assert_allclose(ffd_weights(d, 1e-4), theirs_w, rtol=1e-12)
        theirs = diff.fractional_difference_fixed_single(pd.Series(x), d, threshold=1e-4).to_numpy()
        np.testing.assert_allclose(frac_diff_ffd(x, d, 1e-4), theirs, rtol=1e-12, atol=1e-14)


def test_short_series_is_all_nan():
    assert np.isnan(frac_diff_ffd(np.arange(5.0), 0.5, 1e-4)).all()


def test_min_d_is_the_first_passing_order_on_the_grid():
    rng = np.random.default_rng(53)
    log_price = np.log(4000) + np.cumsum(rng.normal(0, 1e-3, 3000))
    grid = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    choice = find_min_ffd_d(log_price, grid)
    assert 0.0 < choice.d <= 1.0
    assert choice.adf_pvalue < 0.05 and choice.tried[-1] == (choice.d, choice.adf_pvalue)
    assert all(p >= 0.05 for _, p in choice.tried[:-1])  # every smaller order failed
    assert [d for d, _ in choice.tried] == grid[: len(choice.tried)]
    assert choice.width == len(ffd_weights(choice.d))


def test_stationary_input_needs_no_differentiation():
    noise = np.random.default_rng(54).normal(size=1000)
    assert find_min_ffd_d(noise, [0.5, 0.0, 1.0]).d == 0.0  # grid is tested in ascending order


def test_no_passing_order_is_an_error_not_a_default():
    log_price = np.log(4000) + np.cumsum(np.random.default_rng(55).normal(0, 1e-3, 2000))
    with pytest.raises(ConfigError, match="d_grid"):
        find_min_ffd_d(log_price, [0.0])


@pytest.mark.parametrize(
    ("call", "error", "field"),
    [
        (lambda: ffd_weights(-0.1), ConfigError, "d"),
        (lambda: ffd_weights(0.5, threshold=0.0), ConfigError, "threshold"),
        (lambda: ffd_weights(0.5, max_width=0), ConfigError, "max_width"),
        (lambda: find_min_ffd_d(np.arange(100.0), []), ConfigError, "d_grid"),
        (lambda: find_min_ffd_d(np.r_[np.nan, np.arange(100.0)], [0.5]), DataError, "x_train"),
        (lambda: find_min_ffd_d(np.arange(60.0), [0.1]), DataError, "x_train"),
    ],
)
def test_bad_inputs_raise_naming_the_argument(call, error, field):
    with pytest.raises(error, match=field):
        call()
