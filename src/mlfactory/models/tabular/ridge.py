"""Ridge classifier with probabilities: ridge regression on ±1 class targets, then temperature softmax.

Why not a strongly-penalised logistic regression: that is ``logistic`` with a small ``C`` already.
The ridge fit is closed form (one linear solve, no iterations), so it is the cheapest and most stable
linear model on long histories, and its scores are a different bias from the logistic's — useful
diversity in an ensemble.

1. ``StandardScaler`` fitted on the training rows only;
2. ``RidgeClassifier`` (one ±1 regression per class, sample and class weights) gives scores ``s``;
3. probabilities ``softmax(s / T)`` with one temperature ``T`` chosen to minimise the weighted log
   loss on held-out rows: the validation set when one is given (in OOF: the purged inner slice of the
   fold's training part), otherwise the latest ``calibration_frac`` of the training rows in time
   order, scored by a ridge fitted on the earlier rows (the returned ridge is then refitted on all
   rows and keeps that temperature). If the earlier rows miss a class, ``T`` is fitted on the
   training scores (slightly over-confident). Where ``T`` came from is ``calibrated_on_``.

One scalar ``T`` cannot reorder classes, so calibration never changes the ridge's argmax.
"""

from __future__ import annotations

import math
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
    "sklearn.linear_model._ridge.RidgeClassifier",
    "sklearn.preprocessing._label.LabelBinarizer",
)
LOG_T_BOUNDS = (math.log(1e-3), math.log(1e3))


class RidgeParams(ModelParams):
    alpha: float = Field(10.0, gt=0, description="L2 penalty of the ridge regression")
    calibration_frac: float = Field(
        0.2,
        gt=0,
        lt=1,
        description="latest share of training rows that fits T when no validation set is given",
    )
    class_weight: ClassWeight = "balanced"


def ridge_scores(estimator: Any, x: np.ndarray) -> np.ndarray:
    """``(n, k)`` decision scores; a binary ridge's single score ``s`` becomes ``(-s, s)``."""
    s = np.asarray(estimator.decision_function(x), dtype=np.float64)
    return np.column_stack([-s, s]) if s.ndim == 1 else s


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(scores: np.ndarray, codes: np.ndarray, weights: np.ndarray) -> float:
    """The ``T`` in [1e-3, 1e3] minimising the weighted log loss of ``softmax(scores / T)``."""
    from scipy.optimize import minimize_scalar

    rows = np.arange(len(codes))

    def nll(log_t: float) -> float:
        z = scores / math.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        log_p = z[rows, codes] - np.log(np.exp(z).sum(axis=1))
        return float(-(weights * log_p).sum() / weights.sum())

    res = minimize_scalar(nll, bounds=LOG_T_BOUNDS, method="bounded", options={"xatol": 1e-6})
    return float(math.exp(res.x))


@register
class RidgeModel(TabularModel):
    compute_dtype = np.float64
    name = "ridge"
    family = Family.CLASSICAL
    default_timeframe = "1h"
    default_feature_set = "engineered"
    allows_nan = False
    Params = RidgeParams
    search_space: ClassVar[dict[str, Any]] = {"alpha": float_dim(1e-2, 1e4, log=True)}

    params: RidgeParams

    def _ridge(self) -> Any:
        from sklearn.linear_model import RidgeClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(StandardScaler(), RidgeClassifier(alpha=self.params.alpha))

    def _fit_ridge(self, x: np.ndarray, y: np.ndarray, w: np.ndarray) -> Any:
        return self._ridge().fit(x, y, ridgeclassifier__sample_weight=w)

    def _fit_arrays(self, x: np.ndarray, y: np.ndarray, w: np.ndarray, val: ValArrays | None) -> None:

        with limit_threads(self.threads):
            ridge = self._fit_ridge(x, y, w)
            if val is not None and len(val[1]):
                self.calibrated_on_ = "val"
                cal_scores, cy, cw = ridge_scores(ridge, val[0]), val[1], val[2]
            else:
                n_fit = len(y) - math.ceil(self.params.calibration_frac * len(y))
                if n_fit > 0 and len(np.unique(y[:n_fit])) == self.n_classes_:
                    self.calibrated_on_ = "inner_split"
                    inner = self._fit_ridge(x[:n_fit], y[:n_fit], w[:n_fit])
                    cal_scores, cy, cw = ridge_scores(inner, x[n_fit:]), y[n_fit:], w[n_fit:]
                else:
                    self.calibrated_on_ = "train"
                    cal_scores, cy, cw = ridge_scores(ridge, x), y, w
        self.temperature_ = fit_temperature(cal_scores, cy, cw)
        self.estimator_ = ridge

    def _predict_arrays(self, x: np.ndarray) -> np.ndarray:

        with limit_threads(self.threads):
            scores = ridge_scores(self.estimator_, x)
        return softmax(scores / self.temperature_)

    def _save_native(self, directory: Path) -> list[str]:
        dump_skops(self.estimator_, directory / MODEL_FILE)
        return [MODEL_FILE]

    def _load_native(self, directory: Path, meta: dict[str, Any]) -> None:
        self.estimator_ = load_skops(directory / MODEL_FILE, TRUSTED_TYPES)
        self.temperature_ = float(meta["temperature"])
        self.calibrated_on_ = meta["calibrated_on"]

    def _extra_meta(self) -> dict[str, Any]:
        return {"temperature": self.temperature_, "calibrated_on": self.calibrated_on_}
