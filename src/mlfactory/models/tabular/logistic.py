"""Multinomial logistic regression on standardised features (scikit-learn), saved with skops.

The scaler is part of the fitted pipeline, so it learns means and scales from the training rows
only. The validation set is unused (L-BFGS converges; there is nothing to stop early). BLAS
threads are capped at ``n_jobs``. The model cannot take missing values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from mlfactory.models.base import Family, ModelParams
from mlfactory.models.config import float_dim
from mlfactory.models.registry import register
from mlfactory.models.tabular._base import (
    ClassWeight,
    TabularModel,
    ValArrays,
    dump_skops,
    limit_threads,
    load_skops,
)

MODEL_FILE = "model.skops"
TRUSTED_TYPES = (
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.linear_model._logistic.LogisticRegression",
)


class LogisticParams(ModelParams):
    C: float = Field(
        0.001,
        gt=0,
        description="inverse L2 regularisation strength (strong by default: ~170 features, and a coarse bar repeats across many decisions)",
    )
    max_iter: int = Field(1000, ge=1)
    tol: float = Field(1e-4, gt=0)
    class_weight: ClassWeight = "balanced"


@register
class LogisticModel(TabularModel):
    compute_dtype = np.float64
    name = "logistic"
    family = Family.CLASSICAL
    default_timeframe = "1h"
    default_feature_set = "engineered"
    uses_validation = False
    allows_nan = False
    Params = LogisticParams
    search_space: ClassVar[dict[str, Any]] = {"C": float_dim(1e-4, 10.0, log=True)}

    params: LogisticParams

    def _fit_arrays(self, x: np.ndarray, y: np.ndarray, w: np.ndarray, val: ValArrays | None) -> None:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        p = self.params
        pipe = make_pipeline(
            StandardScaler(),
            LogisticRegression(C=p.C, max_iter=p.max_iter, tol=p.tol, random_state=self.seed),
        )
        with limit_threads(self.threads):
            self.estimator_ = pipe.fit(x, y, logisticregression__sample_weight=w)

    def _predict_arrays(self, x: np.ndarray) -> np.ndarray:

        with limit_threads(self.threads):
            return self.estimator_.predict_proba(x)

    def _save_native(self, directory: Path) -> list[str]:
        dump_skops(self.estimator_, directory / MODEL_FILE)
        return [MODEL_FILE]

    def _load_native(self, directory: Path, meta: dict[str, Any]) -> None:
        self.estimator_ = load_skops(directory / MODEL_FILE, TRUSTED_TYPES)
