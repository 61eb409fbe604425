"""Positions from class probabilities: argmax, threshold and AFML bet sizing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlfactory.errors import ConfigError, DataError
from mlfactory.evaluation.positions import bet_size_from_probability, positions_from_probabilities

PROBA = np.array(
    [
        [0.6, 0.3, 0.1],  # short
        [0.1, 0.3, 0.6],  # long
        [0.2, 0.6, 0.2],  # neutral
        [0.45, 0.1, 0.45],  # tie short/long → flat
        [0.0, 0.0, 1.0],  # certain long
        [0.34, 0.33, 0.33],  # barely short
    ]
)


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def test_argmax():
    np.testing.assert_array_equal(positions_from_probabilities(PROBA, "argmax"), [-1, 1, 0, 0, 1, -1])


def test_threshold_is_strict_on_p_long_minus_p_short():
    # scores: -0.5, 0.5, 0.0, 0.0, 1.0, -0.01
    np.testing.assert_array_equal(
        positions_from_probabilities(PROBA, "threshold", threshold=0.5), [0, 0, 0, 0, 1, 0]
    )
    np.testing.assert_array_equal(
        positions_from_probabilities(PROBA, "threshold", threshold=0.0), [-1, 1, 0, 0, 1, -1]
    )


def test_bet_size_matches_afml_formula_by_hand():
    pos = positions_from_probabilities(PROBA, "bet_size")
    z = (0.6 - 1 / 3) / math.sqrt(0.6 * 0.4)  # = 0.5443
    size_06 = 2 * _phi(z) - 1  # = 0.4138
    assert pos[0] == pytest.approx(-size_06) and pos[1] == pytest.approx(size_06)
    assert pos[2] == 0.0 and pos[3] == 0.0  # neutral and tied predictions do not trade
    assert pos[4] == 1.0  # p = 1 → z = +inf
    z = (0.34 - 1 / 3) / math.sqrt(0.34 * 0.66)
    assert pos[5] == pytest.approx(-(2 * _phi(z) - 1))
    assert abs(pos[5]) < 0.02  # a barely-preferred class is a tiny bet


def test_bet_size_matches_risklabai():
    rl = pytest.importorskip("RiskLabAI.backtest.bet_sizing")
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(3), size=200)
    side = np.array([-1, 0, 1])[proba.argmax(axis=1)]
    p = proba.max(axis=1)
    t_value = (p - 1 / 3) / np.sqrt(p * (1 - p))  # RiskLabAI generate_signal step 1 (AFML snippet 10.1)
    expected = rl.probability_bet_size(t_value, side)
    np.testing.assert_allclose(positions_from_probabilities(proba, "bet_size"), expected, atol=1e-12)
    stepped = rl.discrete_signal(pd.Series(expected), 0.1).to_numpy()
    np.testing.assert_allclose(positions_from_probabilities(proba, "bet_size", step=0.1), stepped, atol=1e-12)


def test_bet_size_bounds_and_monotonic():
    p = np.linspace(1 / 3, 1.0, 50)
    size = bet_size_from_probability(p)
    assert size[0] == pytest.approx(0.0) and size[-1] == 1.0
    assert (np.diff(size) > 0).all()


def test_bad_inputs():
    with pytest.raises(DataError, match="shape"):
        positions_from_probabilities(np.ones((3, 2)) / 2)
    with pytest.raises(DataError, match="sums to"):
        positions_from_probabilities(np.array([[0.5, 0.5, 0.5]]))
    with pytest.raises(DataError, match="NaN"):
        positions_from_probabilities(np.array([[np.nan, 0.5, 0.5]]))
    with pytest.raises(ConfigError, match="threshold"):
        positions_from_probabilities(PROBA, "threshold")
    with pytest.raises(ConfigError, match="threshold"):
        positions_from_probabilities(PROBA, "argmax", threshold=0.2)
    with pytest.raises(ConfigError, match="step"):
        positions_from_probabilities(PROBA, "bet_size", step=0.0)
    with pytest.raises(ConfigError, match="rule"):
        positions_from_probabilities(PROBA, "kelly")  # type: ignore[arg-type]
