"""Synthetic stacked OOF matrices: Dirichlet probability blocks of a few bases with planted quality."""

from __future__ import annotations

import numpy as np

from mlfactory.adapters.views import TabularView
from mlfactory.models.base import PROBA_COLUMNS, Dataset, Family
from mlfactory.models.registry import all_models

T0 = 1_700_000_000 * 10**9
FIVE_MIN = 300 * 10**9
PRIORS = np.array([0.3, 0.4, 0.3])

STACKED_MODELS = sorted(n for n, c in all_models().items() if c.family in (Family.META, Family.ENSEMBLE))
META_LEARNERS = sorted(n for n, c in all_models().items() if c.family == Family.META)

# small settings so every fit takes well under a second
SMALL_PARAMS: dict[str, dict] = {
    "ridge_meta": {},
    "mlp_meta": {"max_epochs": 40, "patience": 5},
    "calibrated_meta": {"purge_rows": 5},
    "xgboost_meta": {"n_estimators": 60, "early_stopping_rounds": 10},
    "voting": {},
    "stacking": {"meta_learner": "logistic"},
    "blending": {"meta_learner": "logistic", "holdout_frac": 0.5},
}


def stacked_dataset(
    n: int = 1200,
    quality: dict[str, float] | None = None,
    seed: int = 0,
    meta_features: bool = True,
    masked: str | None = None,
) -> Dataset:
    """Labels drawn with ``PRIORS``; base ``b``'s block ~ Dirichlet(2 + quality[b] · onehot(y)).

    Quality 0 is pure noise. ``masked`` names a base whose block is replaced by the priors on every
    fifth row, with a ``<base>__mask`` column set to 1 there.
    """
    quality = {"good": 4.0, "noise": 0.0} if quality is None else quality
    rng = np.random.default_rng(seed)
    y = rng.choice(np.array([-1, 0, 1]), size=n, p=PRIORS).astype(np.int8)
    onehot = np.eye(3)[y + 1]
    cols, names = [], []
    for base, q in quality.items():
        block = np.stack([rng.dirichlet(2.0 + q * row) for row in onehot])
        names += [f"{base}__{c}" for c in PROBA_COLUMNS]
        if base == masked:
            rows = np.arange(n) % 5 == 0
            block[rows] = PRIORS
            cols += [block, rows[:, None].astype(np.float64)]
            names.append(f"{base}__mask")
        else:
            cols.append(block)
    if meta_features:
        hours = rng.uniform(0, 24, n)
        cols.append(np.column_stack([np.sin(2 * np.pi * hours / 24), rng.uniform(0.5, 2.0, n)]))
        names += ["meta__hour_sin", "meta__vol_regime"]
    x = np.hstack(cols).astype(np.float32)
    ts = T0 + np.arange(n, dtype=np.int64) * FIVE_MIN
    w = rng.uniform(0.5, 1.5, n)
    return Dataset(TabularView(x, ts, tuple(names)), y, w)


def log_loss(p: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y + 1], 1e-15, None))))


def prior_log_loss(train: Dataset, test: Dataset) -> float:
    prior = np.bincount(train.y + 1, minlength=3) / len(train)
    return log_loss(np.tile(prior, (len(test), 1)), test.y)
