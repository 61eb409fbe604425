"""XGBoost gradient-boosted trees (``hist``), early-stopped on the validation split, saved as UBJSON."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from mlfactory.models.base import Family, ModelParams, MtfStrategy
from mlfactory.models.config import float_dim, int_dim
from mlfactory.models.registry import register
from mlfactory.models.tabular._base import ClassWeight, TabularModel, ValArrays
from mlfactory.models.tabular.native_check import probe_in_child

MODEL_FILE = "model.ubj"


class XGBoostParams(ModelParams):
    n_estimators: int = Field(500, ge=1, description="boosting rounds (upper bound with early stopping)")
    learning_rate: float = Field(0.05, gt=0, le=1)
    max_depth: int = Field(6, ge=1, le=16)
    min_child_weight: float = Field(1.0, ge=0)
    subsample: float = Field(0.8, gt=0, le=1)
    colsample_bytree: float = Field(0.8, gt=0, le=1)
    reg_lambda: float = Field(1.0, ge=0)
    reg_alpha: float = Field(0.0, ge=0)
    gamma: float = Field(0.0, ge=0)
    max_bin: int = Field(256, ge=2, le=1024)
    early_stopping_rounds: int = Field(50, ge=1)
    class_weight: ClassWeight = "balanced"


@register
class XGBoostModel(TabularModel):
    """Multiclass softprob boosting; with a validation set the saved booster stops at the best round."""

    name = "xgboost"
    family = Family.BOOSTING
    default_timeframe = "15m"
    default_mtf_strategy = MtfStrategy.MTF_INDICATORS
    default_mtf_timeframes = ("30m", "1h", "4h")
    default_feature_set = "engineered_mtf"
    Params = XGBoostParams
    search_space: ClassVar[dict[str, Any]] = {
        "learning_rate": float_dim(0.01, 0.3, log=True),
        "max_depth": int_dim(2, 10),
        "min_child_weight": float_dim(0.5, 50.0, log=True),
        "subsample": float_dim(0.5, 1.0),
        "colsample_bytree": float_dim(0.3, 1.0),
        "reg_lambda": float_dim(1e-3, 30.0, log=True),
    }

    params: XGBoostParams

    def _booster_params(self) -> dict[str, Any]:
        p = self.params
        return {
            "objective": "multi:softprob",
            "num_class": self.n_classes_,
            "eval_metric": "mlogloss",
            "tree_method": "hist",
            "learning_rate": p.learning_rate,
            "max_depth": p.max_depth,
            "min_child_weight": p.min_child_weight,
            "subsample": p.subsample,
            "colsample_bytree": p.colsample_bytree,
            "reg_lambda": p.reg_lambda,
            "reg_alpha": p.reg_alpha,
            "gamma": p.gamma,
            "max_bin": p.max_bin,
            "nthread": self.threads,
            "seed": self.seed,
            "verbosity": 0,
        }

    def _fit_arrays(self, x: np.ndarray, y: np.ndarray, w: np.ndarray, val: ValArrays | None) -> None:
        import xgboost as xgb

        p = self.params
        dtrain = xgb.QuantileDMatrix(x, label=y, weight=w, max_bin=p.max_bin, nthread=self.threads)
        kwargs: dict[str, Any] = {}
        if val is not None:
            dval = xgb.QuantileDMatrix(val[0], label=val[1], weight=val[2], ref=dtrain, nthread=self.threads)
            kwargs = {"evals": [(dval, "val")], "early_stopping_rounds": p.early_stopping_rounds}
        booster = xgb.train(
            self._booster_params(), dtrain, num_boost_round=p.n_estimators, verbose_eval=False, **kwargs
        )
        if val is not None:
            self.best_iteration_ = int(booster.best_iteration)
            booster = booster[: self.best_iteration_ + 1]
        else:
            self.best_iteration_ = p.n_estimators - 1
        self.booster_ = booster

    def _predict_arrays(self, x: np.ndarray) -> np.ndarray:
        self.booster_.set_param({"nthread": self.threads})
        return np.asarray(self.booster_.inplace_predict(x)).reshape(len(x), self.n_classes_)

    def _save_native(self, directory: Path) -> list[str]:
        self.booster_.save_model(directory / MODEL_FILE)
        return [MODEL_FILE]

    def _load_native(self, directory: Path, meta: dict[str, Any]) -> None:
        import xgboost as xgb

        probe_in_child(directory / MODEL_FILE, "xgboost", len(self.feature_names_))
        self.booster_ = xgb.Booster(model_file=str(directory / MODEL_FILE))
        self.best_iteration_ = int(meta["best_iteration"])

    def _extra_meta(self) -> dict[str, Any]:
        return {"best_iteration": self.best_iteration_}
