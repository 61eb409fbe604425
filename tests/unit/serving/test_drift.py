"""PSI and KS: near zero for the same distribution, large for a shifted one."""

from __future__ import annotations

import numpy as np

from mlfactory.serving.drift import class_psi, ks, psi


def test_psi_and_ks_separate_same_from_shifted() -> None:
    rng = np.random.default_rng(0)
    ref, same, shifted = rng.normal(size=5_000), rng.normal(size=2_000), rng.normal(0.8, 1.0, 2_000)
    assert psi(ref, same, 10) < 0.02 and ks(ref, same) < 0.05
    assert psi(ref, shifted, 10) > 0.25 and ks(ref, shifted) > 0.25


def test_psi_ignores_nan_and_handles_constant_reference() -> None:
    ref = np.r_[np.ones(100), np.nan]
    assert np.isfinite(psi(ref, np.ones(50), 10)) and psi(ref, np.ones(50), 10) < 1e-9
    assert np.isnan(psi(np.array([np.nan]), np.ones(3), 10))


def test_class_psi() -> None:
    a = np.repeat([0, 1, 2], 100)
    assert class_psi(a, a) < 1e-12
    assert class_psi(a, np.zeros(50, int)) > 1.0
