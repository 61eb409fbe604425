"""LightGBM leaf-wise boosting, early-stopped on the validation split, saved in LightGBM's text format."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from mlfactory.models.base import Family, ModelParams, MtfStrategy
from mlfactory.models.config import float_dim, int_dim
from mlfactory.models.registry import register
from mlfactory.models.tabular._base import ClassWeight, TabularModel, ValArrays
from mlfactory.models.tabular.native_check import check_lightgbm_text

MODEL_FILE = "model.txt"


class LightGBMParams(ModelParams):
    n_estimators: int = Field(500, ge=1, description="boosting rounds (upper bound with early stopping)")
    learning_rate: float = Field(0.05, gt=0, le=1)
    num_leaves: int = Field(31, ge=2, le=4096)
    max_depth: int = Field(-1, ge=-1, description="-1: unlimited")
    min_child_samples: int = Field(20, ge=1)
    subsample: float = Field(0.8, gt=0, le=1, description="bagging fraction (applied every round)")
    colsample_bytree: float = Field(0.8, gt=0, le=1, description="feature fraction per tree")
    reg_lambda: float = Field(0.0, ge=0)
    reg_alpha: float = Field(0.0, ge=0)
    max_bin: int = Field(255, ge=2, le=1024)
    early_stopping_rounds: int = Field(50, ge=1)
    class_weight: ClassWeight = "balanced"


@register
class LightGBMModel(TabularModel):
    """Multiclass LightGBM with ``deterministic`` on, so a seed reproduces the booster exactly."""

    name = "lightgbm"
    family = Family.BOOSTING
    default_timeframe = "15m"
    default_mtf_strategy = MtfStrategy.MTF_INDICATORS
    default_mtf_timeframes = ("30m", "1h", "4h")
    default_feature_set = "engineered_mtf"
    Params = LightGBMParams
    search_space: ClassVar[dict[str, Any]] = {
        "learning_rate": float_dim(0.01, 0.3, log=True),
        "num_leaves": int_dim(7, 255, log=True),
        "min_child_samples": int_dim(10, 500, log=True),
        "subsample": float_dim(0.5, 1.0),
        "colsample_bytree": float_dim(0.3, 1.0),
        "reg_lambda": float_dim(1e-3, 30.0, log=True),
    }

    params: LightGBMParams

    def _lgb_params(self) -> dict[str, Any]:
        p = self.params
        return {
            "objective": "multiclass",
            "num_class": self.n_classes_,
            "metric": "multi_logloss",
            "learning_rate": p.learning_rate,
            "num_leaves": p.num_leaves,
            "max_depth": p.max_depth,
            "min_child_samples": p.min_child_samples,
            "bagging_fraction": p.subsample,
            "bagging_freq": 1 if p.subsample < 1 else 0,
            "feature_fraction": p.colsample_bytree,
            "lambda_l2": p.reg_lambda,
            "lambda_l1": p.reg_alpha,
            "max_bin": p.max_bin,
            "num_threads": self.threads,
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "verbosity": -1,
        }

    def _fit_arrays(self, x: np.ndarray, y: np.ndarray, w: np.ndarray, val: ValArrays | None) -> None:
        import lightgbm as lgb

        p = self.params
        params = self._lgb_params()
        dtrain = lgb.Dataset(x, label=y, weight=w, params={"max_bin": p.max_bin, "verbosity": -1})
        kwargs: dict[str, Any] = {}
        if val is not None:
            dval = lgb.Dataset(val[0], label=val[1], weight=val[2], reference=dtrain)
            kwargs = {
                "valid_sets": [dval],
                "callbacks": [lgb.early_stopping(p.early_stopping_rounds, verbose=False)],
            }
        booster = lgb.train(params, dtrain, num_boost_round=p.n_estimators, **kwargs)
        best = (
            booster.best_iteration
            if val is not None and booster.best_iteration > 0
            else booster.current_iteration()
        )
        # keep only the trees up to the best round, so saved and in-memory models predict alike
        self.booster_ = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
        self.best_iteration_ = best - 1

    def _predict_arrays(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster_.predict(x, num_threads=self.threads)).reshape(len(x), self.n_classes_)

    def _save_native(self, directory: Path) -> list[str]:
        self.booster_.save_model(str(directory / MODEL_FILE))
        return [MODEL_FILE]

    def _load_native(self, directory: Path, meta: dict[str, Any]) -> None:
        import lightgbm as lgb

        path = directory / MODEL_FILE
        check_lightgbm_text(path, n_classes=self.n_classes_, n_features=len(self.feature_names_))
        self.booster_ = lgb.Booster(model_file=str(path))
        self.best_iteration_ = int(meta["best_iteration"])

    def _extra_meta(self) -> dict[str, Any]:
        return {"best_iteration": self.best_iteration_}
