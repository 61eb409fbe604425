"""Class probabilities → target positions in [-1, 1] (one per decision).

Probabilities are ``(n, 3)`` arrays with columns ``[p_short, p_neutral, p_long]`` for the classes
``(-1, 0, 1)``. Three rules:

- ``argmax``: the most probable class (-1, 0 or +1). A tie for the top probability is flat (0):
  the model has no preference, so we take no side.
- ``threshold``: the score ``s = p_long - p_short``; long (+1) when ``s > threshold``, short (-1)
  when ``s < -threshold``, flat otherwise.
- ``bet_size``: AFML ch. 10 (López de Prado, "Bet sizing from predicted probabilities"). With
  ``K = 3`` classes and ``p`` the probability of the predicted (argmax) class,
  ``z = (p - 1/K) / sqrt(p (1 - p))`` and ``size = 2 Φ(z) - 1`` in [0, 1]; the position is
  ``side × size`` where the side is the predicted class (a neutral prediction gives 0). With
  ``step`` the size is discretised to multiples of ``step`` (AFML's ``discreteSignal``), which
  stops tiny probability changes from trading. ``p = 1`` gives ``z = +inf`` and size 1.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.special import ndtr

from mlfactory.errors import ConfigError, DataError

CLASSES = np.array([-1, 0, 1], dtype=np.int8)
N_CLASSES = 3
PositionRule = Literal["argmax", "threshold", "bet_size"]
_PROBA_SUM_TOL = 1e-6


def check_probabilities(proba: np.ndarray, name: str = "proba") -> np.ndarray:
    """Validate an ``(n, 3)`` probability matrix (finite, in [0, 1], rows summing to 1) and return it as float64."""
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != N_CLASSES:
        raise DataError(
            f"{name}: expected shape (n, 3) with columns [p_short, p_neutral, p_long], got {p.shape}"
        )
    if not np.isfinite(p).all():
        row = int(np.flatnonzero(~np.isfinite(p).all(axis=1))[0])
        raise DataError(f"{name}: row {row} has a NaN or infinite probability; drop or impute it first")
    if (p < 0).any() or (p > 1).any():
        row = int(np.flatnonzero(((p < 0) | (p > 1)).any(axis=1))[0])
        raise DataError(f"{name}: row {row} has a probability outside [0, 1]: {p[row].tolist()}")
    bad = np.abs(p.sum(axis=1) - 1.0) > _PROBA_SUM_TOL
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{name}: row {row} sums to {p[row].sum():.6g}, not 1; pass normalised class probabilities"
        )
    return p


def predicted_side(proba: np.ndarray) -> np.ndarray:
    """Argmax class in {-1, 0, 1} per row; a tie for the top probability gives 0 (flat)."""
    top = proba.max(axis=1, keepdims=True)
    n_top = (proba == top).sum(axis=1)
    side = CLASSES[np.argmax(proba, axis=1)].astype(np.float64)
    side[n_top > 1] = 0.0
    return side


def bet_size_from_probability(p: np.ndarray, n_classes: int = N_CLASSES) -> np.ndarray:
    """AFML ch. 10 size ``2 Φ(z) - 1`` with ``z = (p - 1/K) / sqrt(p (1 - p))`` (in [-1, 1])."""
    p = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (p - 1.0 / n_classes) / np.sqrt(p * (1.0 - p))
    # p == 1 → +inf (size 1); p == 0 → -inf (size -1); both are the limits of the formula.
    z = np.where(p >= 1.0, np.inf, np.where(p <= 0.0, -np.inf, z))
    return 2.0 * ndtr(z) - 1.0


def discretize_size(size: np.ndarray, step: float) -> np.ndarray:
    """Round sizes to multiples of ``step`` (AFML ``discreteSignal``), clipped to [-1, 1]."""
    return np.clip(np.round(size / step) * step, -1.0, 1.0)


def positions_from_probabilities(
    proba: np.ndarray,
    rule: PositionRule = "argmax",
    *,
    threshold: float | None = None,
    step: float | None = None,
) -> np.ndarray:
    """Target position in [-1, 1] for each row of ``proba`` by ``rule`` (see the module docstring).

    ``threshold`` is required for ``rule="threshold"`` (in [0, 1)); ``step`` optionally discretises
    ``bet_size`` sizes (in (0, 1]). Passing an argument the rule does not use is an error.
    """
    p = check_probabilities(proba)
    if rule == "argmax":
        _reject_unused(rule, threshold=threshold, step=step)
        return predicted_side(p)
    if rule == "threshold":
        _reject_unused(rule, step=step)
        if threshold is None or not (0.0 <= threshold < 1.0):
            raise ConfigError(
                f"threshold: rule='threshold' needs a threshold in [0, 1) on p_long - p_short, got {threshold!r}"
            )
        score = p[:, 2] - p[:, 0]
        return np.where(score > threshold, 1.0, np.where(score < -threshold, -1.0, 0.0))
    if rule == "bet_size":
        _reject_unused(rule, threshold=threshold)
        side = predicted_side(p)
        size = bet_size_from_probability(p.max(axis=1))
        if step is not None:
            if not (0.0 < step <= 1.0):
                raise ConfigError(f"step: the bet-size discretisation step must be in (0, 1], got {step!r}")
            size = discretize_size(size, step)
        return side * size
    raise ConfigError(f"rule: unknown position rule {rule!r}; use 'argmax', 'threshold' or 'bet_size'")


def _reject_unused(rule: str, **kwargs: float | None) -> None:
    for name, value in kwargs.items():
        if value is not None:
            raise ConfigError(f"{name}: not used by rule={rule!r}; remove it or pick a rule that uses it")
