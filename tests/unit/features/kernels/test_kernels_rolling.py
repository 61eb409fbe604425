"""Rolling statistics against slow per-window references (numpy, scipy.stats.linregress)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from mlfactory.errors import ConfigError, DataError
from mlfactory.features.kernels.rolling import (
    rolling_mean,
    rolling_percentile_rank,
    rolling_r2,
    rolling_regression_slope,
    rolling_slope,
    rolling_slope_tstat,
    rolling_std,
    rolling_sum,
    rolling_zscore,
    segment_cumsum,
)


def _per_window(x: np.ndarray, w: int, stat) -> np.ndarray:
    out = np.full(len(x), np.nan)
    for i in range(w - 1, len(x)):
        win = x[i - w + 1 : i + 1]
        if np.isfinite(win).all():
            out[i] = stat(win)
    return out


def _zscore(win):
    s = win.std(ddof=1)
    return 0.0 if s == 0 else (win[-1] - win.mean()) / s


def _pct_rank(win):
    less = np.sum(win < win[-1])
    equal = np.sum(win == win[-1])
    return (less + 0.5 * (equal - 1)) / (len(win) - 1)


def _fit(win):
    return stats.linregress(np.arange(len(win), dtype=float), win)


REFERENCES = {
    rolling_sum: np.sum,
    rolling_mean: np.mean,
    rolling_std: lambda win: win.std(ddof=1),
    rolling_zscore: _zscore,
    rolling_percentile_rank: _pct_rank,
    rolling_slope: lambda win: _fit(win).slope,
    rolling_r2: lambda win: _fit(win).rvalue ** 2,
    rolling_slope_tstat: lambda win: _fit(win).slope / _fit(win).stderr,
}


@pytest.fixture
def series_with_gaps():
    rng = np.random.default_rng(11)
    x = 4000.0 + np.cumsum(rng.normal(0.0, 0.25, 300))
    x[[40, 41, 170]] = np.nan  # windows holding these are NaN; the output recovers afterwards
    return x


@pytest.mark.parametrize("kernel", list(REFERENCES), ids=lambda k: k.__name__)
@pytest.mark.parametrize("window", [3, 17])
def test_matches_per_window_reference(kernel, window, series_with_gaps):
    expected = _per_window(series_with_gaps, window, REFERENCES[kernel])
    np.testing.assert_allclose(kernel(series_with_gaps, window), expected, rtol=1e-9, atol=1e-9)


def test_percentile_rank_with_ties_is_the_mid_rank():
    x = np.array([1.0, 2.0, 2.0, 3.0, 2.0, 5.0, 0.0])
    # window [2, 2, 3, 2] at bar 4: the three 2s hold ranks 1..3, mid-rank 2 -> (2 - 1) / 3
    np.testing.assert_allclose(
        rolling_percentile_rank(x, 4), [np.nan, np.nan, np.nan, 1.0, 1.0 / 3.0, 1.0, 0.0]
    )
    np.testing.assert_array_equal(rolling_percentile_rank(np.full(6, 7.0), 3)[2:], 0.5)


def test_regression_slope_matches_polyfit():
    rng = np.random.default_rng(12)
    x = rng.normal(0.0, 10.0, 200)
    y = 0.3 * x + rng.normal(0.0, 1.0, 200)
    expected = _per_window(
        np.arange(200.0), 15, lambda idx: np.polyfit(x[idx.astype(int)], y[idx.astype(int)], 1)[0]
    )
    np.testing.assert_allclose(rolling_regression_slope(y, x, 15), expected, rtol=1e-9, atol=1e-12)


def test_no_drift_over_a_long_series_at_price_scale():
    """Running sums must not lose precision: std of 0.25-tick noise around 4000 over 100k bars."""
    rng = np.random.default_rng(13)
    x = 4000.0 + np.round(np.cumsum(rng.normal(0.0, 1.0, 100_000))) * 0.25
    w = 50
    tail = x[-w:]
    assert rolling_std(x, w)[-1] == pytest.approx(tail.std(ddof=1), rel=1e-10)
    assert rolling_slope(x, w)[-1] == pytest.approx(_fit(tail).slope, rel=1e-8, abs=1e-12)


def test_constant_windows_give_documented_values_not_noise():
    x = np.r_[np.linspace(4000.0, 4001.0, 30), np.full(30, 4000.1)]
    w = 10
    assert (rolling_std(x, w)[-20:] == 0.0).all()
    assert (rolling_zscore(x, w)[-20:] == 0.0).all()
    assert (rolling_r2(x, w)[-20:] == 0.0).all()
    assert (rolling_slope_tstat(x, w)[-20:] == 0.0).all()
    assert np.allclose(rolling_slope(x, w)[-20:], 0.0, atol=1e-12)


def test_perfect_line_gives_r2_one_and_a_large_finite_tstat():
    x = 2.0 * np.arange(40.0)
    t = rolling_slope_tstat(x, 10)[9:]
    assert np.isfinite(t).all() and (t > 1e5).all()
    np.testing.assert_allclose(rolling_r2(x, 10)[9:], 1.0)
    np.testing.assert_allclose(rolling_slope(x, 10)[9:], 2.0)


def test_window_longer_than_series_is_all_nan():
    assert np.isnan(rolling_mean(np.ones(5), 10)).all()


@pytest.mark.parametrize("window", [1, 0, -3, 2.5, True, "5"])
def test_bad_window_is_a_config_error(window):
    with pytest.raises(ConfigError, match="window"):
        rolling_std(np.ones(10), window)


def test_bad_arrays_are_data_errors():
    with pytest.raises(DataError, match="1-D"):
        rolling_mean(np.ones((5, 2)), 2)
    with pytest.raises(DataError, match="equal length"):
        rolling_regression_slope(np.ones(5), np.ones(6), 3)


@settings(max_examples=50, deadline=None)
@given(
    # magnitudes from 1e-6 to 1e9 (a double-double prefix holds ~106 bits: 1.0 + 1e-64 is beyond it)
    st.lists(
        st.floats(-1e9, 1e9).filter(lambda v: v == 0 or abs(v) >= 1e-6) | st.just(float("nan")),
        min_size=2,
        max_size=300,
    ),
    st.integers(1, 40),
    st.integers(0, 299),
)
def test_rolling_sum_is_the_rounded_exact_sum_whatever_came_before(values, window, cut):
    """Each window's sum is ``math.fsum`` of it (the exact sum rounded once), so a tail of the
    series gives the same bits as the whole series — what the live predictor's tails rely on."""
    x = np.asarray(values)
    whole = rolling_sum(x, window)
    np.testing.assert_array_equal(whole, _per_window(x, window, math.fsum))
    start = min(cut, len(x) - 1)
    np.testing.assert_array_equal(rolling_sum(x[start:], window)[window - 1 :], whole[start + window - 1 :])


def test_segment_cumsum_restarts_at_each_marked_row():
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    np.testing.assert_array_equal(
        segment_cumsum(x, np.array([True, False, True, False, False])), [1, 3, 3, 7, 12]
    )
