"""Shared fixtures: a cost-bearing ES-like instrument with round numbers, and the 8-bar hand example."""

from __future__ import annotations

import numpy as np
import pytest

from mlfactory.data.instruments import get_instrument

T0 = 1_700_000_000 * 10**9  # 2023-11-14 22:13:20 UTC
FIVE_MIN = 300 * 10**9


@pytest.fixture
def instrument():
    """ES session and contract; commission 5.00/side ÷ 50 = 0.10 pt, slippage 1 tick = 0.25 pt → 0.35 pt/side."""
    return get_instrument("ES", commission_per_side=5.0, slippage_ticks=1.0)


@pytest.fixture
def hand_bars():
    ts = T0 + np.arange(8, dtype=np.int64) * FIVE_MIN
    open_ = np.array([100.0, 101.0, 102.5, 101.5, 103.0, 101.0, 100.0, 100.5])
    close = np.array([101.0, 102.0, 101.5, 103.0, 102.0, 100.0, 100.5, 101.0])
    return ts, open_, close


def _random_bars(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ts = T0 + np.arange(n, dtype=np.int64) * FIVE_MIN
    close = 4000.0 + np.cumsum(rng.normal(0.0, 1.0, n))
    open_ = np.concatenate(([close[0]], close[:-1])) + rng.normal(0.0, 0.3, n)
    return ts, open_, close


@pytest.fixture
def random_bars():
    """``random_bars(rng, n)`` → 5-minute (ts, open, close) with gaps between close and next open."""
    return _random_bars
