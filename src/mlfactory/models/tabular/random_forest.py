"""Random forest (scikit-learn), saved with skops.

No early stopping (a forest does not overfit with more trees); the validation set is unused.
``max_samples`` below 1 draws smaller bootstraps, which de-correlates trees on overlapping labels
(AFML ch. 6) and bounds fit time on long histories. Missing values are routed by the trees
(scikit-learn ≥ 1.4).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from mlfactory.models.base import Family, ModelParams
from mlfactory.models.config import categorical_dim, float_dim, int_dim
from mlfactory.models.registry import register
from mlfactory.models.tabular._base import ClassWeight, TabularModel, ValArrays, dump_skops, load_skops

MODEL_FILE = "model.skops"
TRUSTED_TYPES = (
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.tree._tree.Tree",
)


class RandomForestParams(ModelParams):
    n_estimators: int = Field(300, ge=1)
    max_depth: int | None = Field(None, ge=1, description="null: grow until min_samples_leaf")
    min_samples_leaf: int = Field(50, ge=1)
    max_features: Annotated[float, Field(gt=0, le=1)] | Literal["sqrt", "log2"] = Field(
        "sqrt", description="fraction of features per split in (0, 1], or a rule"
    )
    max_samples: float | None = Field(0.5, gt=0, le=1, description="bootstrap fraction; null: full size")
    criterion: Literal["gini", "entropy", "log_loss"] = "entropy"
    class_weight: ClassWeight = "balanced"


@register
class RandomForestModel(TabularModel):
    name = "random_forest"
    family = Family.CLASSICAL
    default_timeframe = "15m"
    default_feature_set = "engineered"
    uses_validation = False
    Params = RandomForestParams
    search_space: ClassVar[dict[str, Any]] = {
        "max_depth": int_dim(3, 16),
        "min_samples_leaf": int_dim(10, 500, log=True),
        "max_features": float_dim(0.05, 0.5),
        "max_samples": categorical_dim(0.2, 0.5, 1.0),
    }

    params: RandomForestParams

    def _fit_arrays(self, x: np.ndarray, y: np.ndarray, w: np.ndarray, val: ValArrays | None) -> None:
        from sklearn.ensemble import RandomForestClassifier

        p = self.params
        self.estimator_ = RandomForestClassifier(
            n_estimators=p.n_estimators,
            max_depth=p.max_depth,
            min_samples_leaf=p.min_samples_leaf,
            max_features=p.max_features,
            max_samples=p.max_samples if p.max_samples is not None and p.max_samples < 1 else None,
            criterion=p.criterion,
            n_jobs=self.threads,
            random_state=self.seed,
        ).fit(x, y, sample_weight=w)

    def _predict_arrays(self, x: np.ndarray) -> np.ndarray:
        self.estimator_.n_jobs = self.threads
        return self.estimator_.predict_proba(x)

    def _save_native(self, directory: Path) -> list[str]:
        dump_skops(self.estimator_, directory / MODEL_FILE)
        return [MODEL_FILE]

    def _load_native(self, directory: Path, meta: dict[str, Any]) -> None:
        self.estimator_ = load_skops(directory / MODEL_FILE, TRUSTED_TYPES)
