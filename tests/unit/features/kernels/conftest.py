"""Random OHLCV bars for the kernel tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

Bars = dict[str, np.ndarray]


def random_bars(
    n: int, seed: int, sigma: float = 1e-3, start: float = 4000.0, zero_volume: float = 0.05
) -> Bars:
    """Consistent OHLCV bars (low <= open, close <= high) on a log random walk, plus generic series.

    ``x`` is log close (a level series); ``y`` is a noisy linear function of ``x``'s increments.
    """
    rng = np.random.default_rng(seed)
    log_close = np.log(start) + np.cumsum(rng.normal(0.0, sigma, n))
    close = np.exp(log_close)
    prev = np.r_[close[0], close[:-1]]
    open_ = prev * np.exp(rng.normal(0.0, sigma / 4, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, sigma / 2, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, sigma / 2, n)))
    volume = rng.integers(1, 200, n).astype(np.float64)
    volume[rng.random(n) < zero_volume] = 0.0
    x = log_close
    y = 0.5 * np.r_[0.0, np.diff(x)] + rng.normal(0.0, sigma, n)
    return {"open": open_, "high": high, "low": low, "close": close, "volume": volume, "x": x, "y": y}


@pytest.fixture
def make_bars() -> Callable[..., Bars]:
    return random_bars
