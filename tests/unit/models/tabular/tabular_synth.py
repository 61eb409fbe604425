"""Synthetic tabular datasets with a planted pattern, and small hyper-parameters for fast fits."""

from __future__ import annotations

import numpy as np

from mlfactory.adapters.views import TabularView
from mlfactory.models.base import Dataset, Family, InputKind
from mlfactory.models.registry import all_models

T0 = 1_700_000_000 * 10**9
FIVE_MIN = 300 * 10**9

# few trees / components so every fit takes well under a second
SMALL_PARAMS: dict[str, dict] = {
    "xgboost": {"n_estimators": 60, "early_stopping_rounds": 10},
    "lightgbm": {"n_estimators": 60, "early_stopping_rounds": 10},
    "catboost": {"n_estimators": 60, "early_stopping_rounds": 10},
    "random_forest": {"n_estimators": 40, "min_samples_leaf": 5},
    "logistic": {},
    "svm": {"n_components": 64},
    "ridge": {},
}

# Base tabular models; meta-learners and combiners (also 2D) take stacked probabilities and have their own tests.
TABULAR_MODELS = sorted(
    n
    for n, c in all_models().items()
    if c.input_kind == InputKind.TABULAR and c.family not in (Family.META, Family.ENSEMBLE)
)


def planted_dataset(n: int = 1500, n_features: int = 8, seed: int = 0, signal: float = 1.0) -> Dataset:
    """Labels from a linear + threshold rule on features 0-2 plus noise (about 30/40/30 short/neutral/long)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, n_features)).astype(np.float32)
    score = signal * (x[:, 0] + 0.7 * x[:, 1] - 0.5 * (x[:, 2] > 0.5)) + rng.normal(0.0, 0.5, n)
    lo, hi = np.quantile(score, [0.3, 0.7])
    y = np.where(score > hi, 1, np.where(score < lo, -1, 0)).astype(np.int8)
    ts = T0 + np.arange(n, dtype=np.int64) * FIVE_MIN
    w = rng.uniform(0.5, 1.5, n)
    return Dataset(TabularView(x, ts, tuple(f"f{i}" for i in range(n_features))), y, w)
