"""Invariant 1 for every kernel in KERNELS: the future never reaches the past; documented warm-up."""

from __future__ import annotations

import numpy as np
import pytest

from mlfactory.features.kernels import KERNELS

N = 700
# Parameters each kernel is exercised with; a new kernel must be added here (see the coverage test).
EXAMPLE_PARAMS: dict[str, dict[str, object]] = {
    "rolling_sum": {"window": 20},
    "rolling_mean": {"window": 20},
    "rolling_std": {"window": 20},
    "rolling_zscore": {"window": 20},
    "rolling_percentile_rank": {"window": 30},
    "rolling_slope": {"window": 20},
    "rolling_r2": {"window": 20},
    "rolling_slope_tstat": {"window": 20},
    "rolling_regression_slope": {"window": 25},
    "parkinson_volatility": {"window": 14},
    "garman_klass_volatility": {"window": 14},
    "rogers_satchell_volatility": {"window": 14},
    "yang_zhang_volatility": {"window": 14},
    "realised_volatility": {"window": 14},
    "roll_spread": {"window": 30},
    "corwin_schultz_spread": {"window": 20},
    "amihud_illiquidity": {"window": 20},
    "kyle_lambda": {"window": 30},
    "wavelet_features": {"window": 32, "wavelet": "db4", "level": 2},
    "frac_diff_ffd": {"d": 0.4, "threshold": 1e-3},
    "volatility_regime": {"vol_window": 12, "rank_window": 40},
    "trend_regime": {"window": 20, "t_threshold": 2.0},
    "rolling_hurst": {"window": 64},
}


def _outputs(name: str, bars: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    kernel = KERNELS[name]
    out = kernel(*(bars[col] for col in kernel.inputs), **EXAMPLE_PARAMS[name])
    return out if isinstance(out, dict) else {name: out}


def test_every_kernel_has_example_parameters():
    assert set(EXAMPLE_PARAMS) == set(KERNELS)


@pytest.mark.parametrize("name", sorted(KERNELS))
@pytest.mark.parametrize("t", [150, 420])
def test_perturbing_the_future_leaves_the_past_unchanged(name, t, make_bars):
    bars = make_bars(N, seed=1)
    future = make_bars(N, seed=2, start=3000.0, sigma=5e-3)
    perturbed = {k: np.r_[v[: t + 1], future[k][t + 1 :]] for k, v in bars.items()}
    base = _outputs(name, bars)
    moved = _outputs(name, perturbed)
    for key in base:
        np.testing.assert_array_equal(moved[key][: t + 1], base[key][: t + 1], err_msg=key)
        # the perturbation must actually reach the kernel, or the test proves nothing
        assert not np.array_equal(moved[key][t + 1 :], base[key][t + 1 :], equal_nan=True), key


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_truncated_history_gives_the_same_values(name, make_bars):
    """Streaming view: computing on bars[:t+1] gives exactly the values of the full run up to t."""
    bars = make_bars(N, seed=3)
    t = 333
    full = _outputs(name, bars)
    short = _outputs(name, {k: v[: t + 1] for k, v in bars.items()})
    for key in full:
        np.testing.assert_array_equal(short[key], full[key][: t + 1], err_msg=key)


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_warmup_is_exactly_as_documented_and_finite_after(name, make_bars):
    bars = make_bars(N, seed=4, zero_volume=0.0)
    warmup = KERNELS[name].warmup(**EXAMPLE_PARAMS[name])
    assert 0 < warmup < N // 2
    for key, values in _outputs(name, bars).items():
        assert values.dtype == np.float64 and values.shape == (N,), key
        assert np.isnan(values[:warmup]).all(), key
        assert np.isfinite(values[warmup:]).all(), key


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_no_inf_on_random_positive_prices_with_zero_volume_bars(name, make_bars):
    bars = make_bars(N, seed=5, sigma=2e-2, start=1.1, zero_volume=0.2)
    for key, values in _outputs(name, bars).items():
        assert not np.isinf(values).any(), key
