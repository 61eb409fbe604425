"""Support vector machine that stays usable on 100k+ rows, saved with skops.

An exact kernel SVM (libsvm) costs O(n²)–O(n³) and is unusable past ~20k rows, and its
``probability=True`` runs an internal unpurged 5-fold CV. Instead:

1. ``StandardScaler`` fitted on the training rows only;
2. ``kernel: rbf`` — a Nyström approximation of the RBF kernel with ``n_components`` landmarks
   (linear in n), or ``kernel: linear`` — no feature map;
3. ``LinearSVC`` (liblinear, primal for n ≫ features, one-vs-rest), with sample and class weights;
4. probability calibration: a multinomial logistic regression on the SVM's decision scores (Platt
   scaling generalised to several classes), fitted on the validation split when one is given —
   in OOF that is the purged inner slice of the fold's training part, never the fold predicted —
   and on the training scores otherwise (slightly over-confident; recorded as ``calibrated_on``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from mlfactory.models.base import Family, ModelParams
from mlfactory.models.config import categorical_dim, float_dim
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
    "sklearn.kernel_approximation.Nystroem",
    "sklearn.svm._classes.LinearSVC",
    "sklearn.linear_model._logistic.LogisticRegression",
)


class SVMParams(ModelParams):
    C: float = Field(0.1, gt=0, description="inverse regularisation of the linear SVM")
    kernel: Literal["rbf", "linear"] = "rbf"
    n_components: int = Field(256, ge=2, description="Nyström landmarks (rbf only)")
    gamma: float | None = Field(None, gt=0, description="RBF width; null: 1 / n_features")
    max_iter: int = Field(2000, ge=1)
    tol: float = Field(1e-4, gt=0)
    calibration_C: float = Field(1.0, gt=0, description="inverse L2 strength of the probability calibrator")
    class_weight: ClassWeight = "balanced"


@register
class SVMModel(TabularModel):
    compute_dtype = np.float64
    name = "svm"
    family = Family.CLASSICAL
    default_timeframe = "15m"
    default_feature_set = "engineered"
    allows_nan = False
    Params = SVMParams
    search_space: ClassVar[dict[str, Any]] = {
        "C": float_dim(1e-3, 10.0, log=True),
        "gamma": float_dim(1e-4, 1.0, log=True),
        "n_components": categorical_dim(128, 256, 512),
    }

    params: SVMParams

    def _fit_arrays(self, x: np.ndarray, y: np.ndarray, w: np.ndarray, val: ValArrays | None) -> None:
        from sklearn.kernel_approximation import Nystroem
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import LinearSVC

        p = self.params
        steps: list[Any] = [StandardScaler()]
        if p.kernel == "rbf":
            n_comp = min(p.n_components, len(x))
            steps.append(Nystroem(kernel="rbf", gamma=p.gamma, n_components=n_comp, random_state=self.seed))
        steps.append(LinearSVC(C=p.C, max_iter=p.max_iter, tol=p.tol, random_state=self.seed))
        svm = make_pipeline(*steps)
        with limit_threads(self.threads):
            svm.fit(x, y, linearsvc__sample_weight=w)
            if val is not None and len(np.unique(val[1])) == self.n_classes_:
                self.calibrated_on_ = "val"
                cx, cy, cw = val
            else:
                self.calibrated_on_ = "train"
                cx, cy, cw = x, y, w
            self.calibrator_ = self._calibrator().fit(self._scores(svm, cx), cy, sample_weight=cw)
        self.svm_ = svm

    def _calibrator(self) -> Any:
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=self.params.calibration_C, max_iter=1000, random_state=self.seed)

    @staticmethod
    def _scores(svm: Any, x: np.ndarray) -> np.ndarray:
        s = svm.decision_function(x)
        return s.reshape(len(x), -1)

    def _predict_arrays(self, x: np.ndarray) -> np.ndarray:

        with limit_threads(self.threads):
            cal = self.calibrator_.predict_proba(self._scores(self.svm_, x))
        out = np.zeros((len(x), self.n_classes_))
        out[:, self.calibrator_.classes_] = cal
        return out

    def _save_native(self, directory: Path) -> list[str]:
        dump_skops({"svm": self.svm_, "calibrator": self.calibrator_}, directory / MODEL_FILE)
        return [MODEL_FILE]

    def _load_native(self, directory: Path, meta: dict[str, Any]) -> None:
        obj = load_skops(directory / MODEL_FILE, TRUSTED_TYPES)
        self.svm_, self.calibrator_ = obj["svm"], obj["calibrator"]
        self.calibrated_on_ = meta["calibrated_on"]

    def _extra_meta(self) -> dict[str, Any]:
        return {"calibrated_on": self.calibrated_on_}
