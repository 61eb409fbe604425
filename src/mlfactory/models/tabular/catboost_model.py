"""CatBoost oblivious-tree boosting, early-stopped on the validation split, saved as ``.cbm``."""

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

MODEL_FILE = "model.cbm"


class CatBoostParams(ModelParams):
    n_estimators: int = Field(500, ge=1, description="boosting iterations (upper bound with early stopping)")
    learning_rate: float = Field(0.05, gt=0, le=1)
    depth: int = Field(6, ge=1, le=16)
    l2_leaf_reg: float = Field(3.0, ge=0)
    rsm: float = Field(1.0, gt=0, le=1, description="feature fraction per split selection")
    random_strength: float = Field(1.0, ge=0)
    bagging_temperature: float = Field(1.0, ge=0)
    border_count: int = Field(254, ge=1, le=65535)
    early_stopping_rounds: int = Field(50, ge=1)
    class_weight: ClassWeight = "balanced"


@register
class CatBoostModel(TabularModel):
    """MultiClass CatBoost; with a validation set the model is shrunk to its best iteration."""

    name = "catboost"
    family = Family.BOOSTING
    default_timeframe = "15m"
    default_mtf_strategy = MtfStrategy.MTF_INDICATORS
    default_mtf_timeframes = ("30m", "1h", "4h")
    default_feature_set = "engineered_mtf"
    Params = CatBoostParams
    search_space: ClassVar[dict[str, Any]] = {
        "learning_rate": float_dim(0.01, 0.3, log=True),
        "depth": int_dim(3, 10),
        "l2_leaf_reg": float_dim(0.5, 30.0, log=True),
        "rsm": float_dim(0.3, 1.0),
        "random_strength": float_dim(0.1, 10.0, log=True),
    }

    params: CatBoostParams

    def _estimator(self, early_stopping: bool) -> Any:
        from catboost import CatBoostClassifier

        p = self.params
        return CatBoostClassifier(
            loss_function="MultiClass",
            iterations=p.n_estimators,
            learning_rate=p.learning_rate,
            depth=p.depth,
            l2_leaf_reg=p.l2_leaf_reg,
            rsm=p.rsm,
            random_strength=p.random_strength,
            bagging_temperature=p.bagging_temperature,
            border_count=p.border_count,
            early_stopping_rounds=p.early_stopping_rounds if early_stopping else None,
            use_best_model=early_stopping,
            random_seed=self.seed,
            thread_count=self.threads,
            verbose=False,
            allow_writing_files=False,
        )

    def _fit_arrays(self, x: np.ndarray, y: np.ndarray, w: np.ndarray, val: ValArrays | None) -> None:
        from catboost import Pool

        model = self._estimator(early_stopping=val is not None)
        eval_set = None if val is None else Pool(val[0], label=val[1], weight=val[2])
        model.fit(Pool(x, label=y, weight=w), eval_set=eval_set)
        self.estimator_ = model
        self.best_iteration_ = int(model.tree_count_) - 1

    def _predict_arrays(self, x: np.ndarray) -> np.ndarray:
        p = self.estimator_.predict_proba(x, thread_count=self.threads)
        return np.asarray(p).reshape(len(x), self.n_classes_)

    def _save_native(self, directory: Path) -> list[str]:
        self.estimator_.save_model(str(directory / MODEL_FILE), format="cbm")
        return [MODEL_FILE]

    def _load_native(self, directory: Path, meta: dict[str, Any]) -> None:
        from catboost import CatBoostClassifier

        probe_in_child(directory / MODEL_FILE, "catboost", len(self.feature_names_))
        self.estimator_ = CatBoostClassifier()
        self.estimator_.load_model(str(directory / MODEL_FILE), format="cbm")
        self.best_iteration_ = int(meta["best_iteration"])

    def _extra_meta(self) -> dict[str, Any]:
        return {"best_iteration": self.best_iteration_}
