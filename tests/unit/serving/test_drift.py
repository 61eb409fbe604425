"""PSI and KS: near zero for the same distribution, large for a shifted one; equal to slow oracles; the config."""

from __future__ import annotations

import itertools
import math
import statistics
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import ks_2samp

from mlfactory.errors import ConfigError
from mlfactory.serving.drift import DriftConfig, class_psi, ks, load_drift_config, psi


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


# ------------------------------------------------------------------------------------------ oracles


def _slow_psi(reference: np.ndarray, recent: np.ndarray, bins: int) -> float:
    """PSI written out: cut points by ``statistics.quantiles`` (inclusive = numpy's linear), bins
    [cut_i, cut_i+1) counted one value at a time, shares floored at 1e-4."""
    ref = [float(x) for x in reference if math.isfinite(x)]
    cur = [float(x) for x in recent if math.isfinite(x)]
    cuts = sorted(set(statistics.quantiles(ref, n=bins, method="inclusive")))
    bounds = [-math.inf, *cuts, math.inf]
    total = 0.0
    for lo, hi in itertools.pairwise(bounds):
        p = max(sum(lo <= x < hi for x in ref) / len(ref), 1e-4)
        q = max(sum(lo <= x < hi for x in cur) / len(cur), 1e-4)
        total += (q - p) * math.log(q / p)
    return total


def _slow_ks(a: np.ndarray, b: np.ndarray) -> float:
    """The largest gap between the two empirical CDFs, evaluated at every observed value."""
    a = np.sort(a[np.isfinite(a)])
    b = np.sort(b[np.isfinite(b)])
    return max(abs(np.mean(a <= x) - np.mean(b <= x)) for x in np.concatenate([a, b]))


CASES = [
    ("normal vs shifted", lambda r: (r.normal(size=400), r.normal(0.4, 1.3, size=150))),
    ("heavy tails with NaN", lambda r: (np.r_[r.standard_t(3, 300), np.nan], np.r_[r.standard_t(3, 90), np.inf])),
    ("ties (integers)", lambda r: (r.integers(0, 5, 300).astype(float), r.integers(1, 7, 120).astype(float))),
    ("recent outside the reference", lambda r: (r.uniform(0, 1, 200), r.uniform(2, 3, 50))),
]  # fmt: skip


@pytest.mark.parametrize(("name", "make"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("bins", [2, 5, 10])
def test_psi_matches_a_slow_reference(name: str, make, bins: int) -> None:
    ref, cur = make(np.random.default_rng(bins))
    assert psi(ref, cur, bins) == pytest.approx(_slow_psi(ref, cur, bins), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize(("name", "make"), CASES, ids=[c[0] for c in CASES])
def test_ks_matches_scipy_and_the_ecdf_gap(name: str, make) -> None:
    ref, cur = make(np.random.default_rng(7))
    finite_ref, finite_cur = ref[np.isfinite(ref)], cur[np.isfinite(cur)]
    assert ks(ref, cur) == pytest.approx(ks_2samp(finite_ref, finite_cur).statistic, abs=1e-12)
    assert ks(ref, cur) == pytest.approx(_slow_ks(ref, cur), abs=1e-12)


def test_class_psi_matches_the_formula_on_class_shares() -> None:
    ref, cur = np.array([0] * 50 + [1] * 30 + [2] * 20), np.array([0] * 10 + [2] * 30)
    p, q = [0.5, 0.3, 0.2], [0.25, 1e-4, 0.75]
    assert class_psi(ref, cur) == pytest.approx(
        sum((b - a) * math.log(b / a) for a, b in zip(p, q, strict=True))
    )


# ------------------------------------------------------------------------------------------- config


def test_drift_config_reads_a_file_and_options_override_it(tmp_path: Path) -> None:
    path = tmp_path / "monitoring.yaml"
    path.write_text("window: 300\npsi_alert: 0.3\n")
    cfg = load_drift_config(path, {"window": 200, "psi_warn": None})
    assert (cfg.window, cfg.psi_warn, cfg.psi_alert, cfg.ks_alert) == (200, 0.1, 0.3, 0.2)
    assert load_drift_config() == DriftConfig()


@pytest.mark.parametrize(
    ("text", "needle"),
    [("windw: 300\n", "windw"), ("window: 5\n", "window"), ("psi_warn: 0.5\n", "psi_warn 0.5 is above psi_alert"),
     ("- 1\n", "must be a mapping")],
)  # fmt: skip
def test_bad_drift_config_names_the_file_and_the_key(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "monitoring.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=str(path)) as err:
        load_drift_config(path)
    assert needle in str(err.value)
