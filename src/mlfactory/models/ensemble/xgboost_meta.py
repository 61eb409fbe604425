"""Shallow, strongly regularised XGBoost meta-learner on the stacked matrix.

The ``xgboost`` model with meta defaults: depth ≤ 4 (2 by default), a large ``min_child_weight``
and L1/L2 penalties, few rounds, no class re-weighting. Early stopping uses the validation set when
one is given; otherwise the latest ``validation_frac`` of the stacked rows in time order pick the
round count on a booster trained on the earlier rows, and the saved booster is retrained on all
rows for that many rounds (``validation_frac: 0`` trains ``n_estimators`` rounds without stopping).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from mlfactory.models.config import float_dim, int_dim
from mlfactory.models.ensemble._base import StackedModel, latest_slice
from mlfactory.models.registry import register
from mlfactory.models.tabular._base import ClassWeight, ValArrays
from mlfactory.models.tabular.xgboost_model import XGBoostModel, XGBoostParams


class XGBoostMetaParams(XGBoostParams):
    n_estimators: int = Field(300, ge=1, description="boosting rounds (upper bound with early stopping)")
    learning_rate: float = Field(0.05, gt=0, le=1)
    max_depth: int = Field(
        2, ge=1, le=4, description="shallow trees only: the inputs are a few probabilities"
    )
    min_child_weight: float = Field(20.0, ge=0)
    subsample: float = Field(0.8, gt=0, le=1)
    colsample_bytree: float = Field(1.0, gt=0, le=1)
    reg_lambda: float = Field(10.0, ge=0)
    reg_alpha: float = Field(1.0, ge=0)
    early_stopping_rounds: int = Field(30, ge=1)
    validation_frac: float = Field(
        0.2, ge=0, lt=1, description="latest share of rows for early stopping when no validation set is given"
    )
    class_weight: ClassWeight = "none"


@register
class XGBoostMetaModel(StackedModel, XGBoostModel):
    name = "xgboost_meta"
    Params = XGBoostMetaParams
    search_space: ClassVar[dict[str, Any]] = {
        "learning_rate": float_dim(0.01, 0.2, log=True),
        "max_depth": int_dim(1, 3),
        "min_child_weight": float_dim(5.0, 200.0, log=True),
        "reg_lambda": float_dim(1.0, 100.0, log=True),
    }

    params: XGBoostMetaParams

    def _fit_arrays(self, x: np.ndarray, y: np.ndarray, w: np.ndarray, val: ValArrays | None) -> None:
        if val is not None or self.params.validation_frac == 0:
            self.stopped_on_ = "val" if val is not None else "none"
            super()._fit_arrays(x, y, w, val)
            return
        import xgboost as xgb

        self.stopped_on_ = "inner_split"
        early, late = latest_slice(len(y), self.params.validation_frac, role=f"{self.name} early stopping")
        super()._fit_arrays(x[early], y[early], w[early], (x[late], y[late], w[late]))
        rounds = self.best_iteration_ + 1
        dtrain = xgb.QuantileDMatrix(x, label=y, weight=w, max_bin=self.params.max_bin, nthread=self.threads)
        self.booster_ = xgb.train(self._booster_params(), dtrain, num_boost_round=rounds, verbose_eval=False)
        self.best_iteration_ = rounds - 1

    def _load_native(self, directory: Any, meta: dict[str, Any]) -> None:
        super()._load_native(directory, meta)
        self.stopped_on_ = meta["stopped_on"]

    def _extra_meta(self) -> dict[str, Any]:
        return {**super()._extra_meta(), "stopped_on": self.stopped_on_}
