"""Trailing-window wavelet features: equal to a per-bar pywt loop, and free of the whole-series leak."""

from __future__ import annotations

import numpy as np
import pytest
import pywt

from mlfactory.errors import ConfigError
from mlfactory.features.kernels.wavelets import wavelet_features, wavelet_output_names


def _reference_at(x, i, window, wavelet, level, mode="symmetric"):
    coeffs = pywt.wavedec(x[i - window + 1 : i + 1], wavelet, mode=mode, level=level)
    energy = np.array([np.sum(c**2) for c in coeffs])
    return list(energy / energy.sum()) + [c[-1] for c in coeffs[1:]]


@pytest.mark.parametrize(("wavelet", "level", "window"), [("db4", 2, 32), ("haar", 3, 16), ("sym4", 1, 20)])
def test_matches_a_per_bar_pywt_loop(wavelet, level, window):
    rng = np.random.default_rng(41)
    x = rng.normal(0.0, 1e-3, 120)
    x[70] = np.nan
    out = wavelet_features(x, window, wavelet=wavelet, level=level)
    names = wavelet_output_names(level)
    assert tuple(out) == names
    for i in range(len(x)):
        got = [out[k][i] for k in names]
        if i < window - 1 or 70 <= i < 70 + window:
            assert np.isnan(got).all(), i
        else:
            np.testing.assert_allclose(
                got, _reference_at(x, i, window, wavelet, level), rtol=1e-10, atol=1e-15
            )


def test_rows_are_aligned_across_batch_boundaries():
    rng = np.random.default_rng(42)
    x = rng.normal(size=16_384 + 300)
    window = 16
    out = wavelet_features(x, window, wavelet="haar", level=2)
    names = wavelet_output_names(2)
    for i in (15, 16_384 + 14, 16_384 + 15, 16_384 + 16, len(x) - 1):
        np.testing.assert_allclose(
            [out[k][i] for k in names], _reference_at(x, i, window, "haar", 2), rtol=1e-10
        )


def test_energy_shares_sum_to_one_and_zero_window_gives_zeros():
    x = np.r_[np.random.default_rng(43).normal(size=50), np.zeros(40)]
    out = wavelet_features(x, 16, wavelet="db2", level=2)
    shares = np.vstack([out[k] for k in ("energy_a2", "energy_d2", "energy_d1")])
    np.testing.assert_allclose(shares[:, 15:49].sum(axis=0), 1.0)
    assert (shares[:, -10:] == 0.0).all()


def test_whole_series_transform_leaks_but_trailing_windows_do_not():
    rng = np.random.default_rng(44)
    x = rng.normal(size=512)
    t = 300
    x_future = x.copy()
    x_future[t + 1 :] = rng.normal(size=512 - t - 1)

    # a whole-series stationary wavelet transform: the detail at t depends on bars after t
    leaky = pywt.swt(x, "db4", level=2, trim_approx=True)[-1]
    leaky_future = pywt.swt(x_future, "db4", level=2, trim_approx=True)[-1]
    assert not np.allclose(leaky[: t + 1], leaky_future[: t + 1])

    ours = wavelet_features(x, 32, wavelet="db4", level=2)
    ours_future = wavelet_features(x_future, 32, wavelet="db4", level=2)
    for key in ours:
        np.testing.assert_array_equal(ours_future[key][: t + 1], ours[key][: t + 1], err_msg=key)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"window": 16, "level": 4}, "level"),
        ({"window": 32, "wavelet": "morl"}, "wavelet"),
        ({"window": 32, "wavelet": "nope"}, "wavelet"),
        ({"window": 32, "mode": "wrap-around"}, "mode"),
        ({"window": 32, "level": 0}, "level"),
    ],
)
def test_bad_configuration_is_a_config_error(kwargs, field):
    with pytest.raises(ConfigError, match=field):
        wavelet_features(np.zeros(100), **kwargs)
