"""Synthetic decision clocks for the OOF and tuning tests: a planted pattern and a random-walk null."""

from __future__ import annotations

import numpy as np

from mlfactory.adapters.views import TabularView
from mlfactory.models.base import Dataset

T0 = 1_700_000_000 * 10**9
FIVE_MIN = 300 * 10**9
HORIZON = 5  # label window: 5 bars

SMALL_PARAMS: dict[str, dict] = {
    "xgboost": {"n_estimators": 40, "early_stopping_rounds": 10},
    "lightgbm": {"n_estimators": 40, "early_stopping_rounds": 10},
    "catboost": {"n_estimators": 40, "early_stopping_rounds": 10},
    "random_forest": {"n_estimators": 30, "min_samples_leaf": 5},
    "logistic": {},
    "ridge": {},
    "svm": {"n_components": 64},
}


def clock(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Decision timestamps every 5 minutes and label ends ``HORIZON`` bars later."""
    ts = T0 + np.arange(n, dtype=np.int64) * FIVE_MIN
    return ts, ts + HORIZON * FIVE_MIN


def planted_dataset(n: int = 1200, n_features: int = 6, seed: int = 0) -> tuple[Dataset, np.ndarray]:
    """Labels from a rule on features 0-1 plus noise; returns the dataset and ``t1``."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, n_features)).astype(np.float32)
    score = x[:, 0] + 0.7 * x[:, 1] + rng.normal(0.0, 0.5, n)
    lo, hi = np.quantile(score, [0.3, 0.7])
    y = np.where(score > hi, 1, np.where(score < lo, -1, 0)).astype(np.int8)
    ts, t1 = clock(n)
    return Dataset(TabularView(x, ts, tuple(f"f{i}" for i in range(n_features))), y), t1


def random_walk_dataset(n: int = 2000, seed: int = 0) -> tuple[Dataset, np.ndarray]:
    """A symmetric random walk: causal features from past returns, labels from the next ``HORIZON`` returns.

    Decisions fall every ``HORIZON`` bars, so label windows do not overlap and rows are nearly
    independent (the AUC's spread is then close to its binomial value). Under a random walk the past
    says nothing about the future direction, so no honest model can tell longs from shorts out of fold.
    """
    rng = np.random.default_rng(seed)
    lags = 20
    r = rng.normal(0.0, 1.0, lags + n * HORIZON + 1)
    c = np.concatenate(([0.0], np.cumsum(r)))  # price path; r[i] = c[i+1] - c[i]
    t = lags + HORIZON * np.arange(n)  # decision bars: the return r[t-1] has just closed
    feats = [r[t - k] for k in range(1, 6)]  # last five returns
    feats.append(c[t] - c[t - 10])  # 10-bar momentum
    feats.append(np.sqrt((r[t[:, None] - np.arange(1, 11)] ** 2).mean(axis=1)))  # 10-bar volatility
    x = np.column_stack(feats).astype(np.float32)
    fwd = c[t + HORIZON] - c[t]
    band = 0.5 * np.sqrt(HORIZON)
    y = np.where(fwd > band, 1, np.where(fwd < -band, -1, 0)).astype(np.int8)
    ts = T0 + t.astype(np.int64) * FIVE_MIN
    names = ("r1", "r2", "r3", "r4", "r5", "mom10", "vol10")
    return Dataset(TabularView(x, ts, names), y), ts + HORIZON * FIVE_MIN
