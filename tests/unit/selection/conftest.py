"""Synthetic classification data with planted informative features on a 5-minute decision clock."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

MIN = 60_000_000_000
T0 = 28_000_000 * MIN


@dataclass
class Planted:
    X: np.ndarray  # float32 (n, f)
    y: np.ndarray  # int8 in {-1, 0, 1}
    names: list[str]
    informative: list[str]
    ts: np.ndarray  # int64 ns, 5 minutes apart
    t1: np.ndarray  # label ends: 3 bars later
    w: np.ndarray  # sample weights


def planted(n: int = 1200, n_informative: int = 3, n_noise: int = 7, seed: int = 0) -> Planted:
    """``y`` is a thresholded noisy linear score of the first ``n_informative`` columns only."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_informative + n_noise)).astype(np.float32)
    coef = np.linspace(1.0, 0.7, n_informative)
    score = X[:, :n_informative] @ coef + 0.4 * rng.standard_normal(n)
    y = np.where(score > 0.6, 1, np.where(score < -0.6, -1, 0)).astype(np.int8)
    informative = [f"info_{i}" for i in range(n_informative)]
    names = informative + [f"noise_{i}" for i in range(n_noise)]
    ts = T0 + np.arange(n, dtype=np.int64) * 5 * MIN
    w = rng.uniform(0.5, 1.5, n)
    return Planted(X, y, names, informative, ts, ts + 15 * MIN, w)


@pytest.fixture(scope="module")
def data() -> Planted:
    return planted()


@pytest.fixture(scope="module")
def make_planted():
    return planted
