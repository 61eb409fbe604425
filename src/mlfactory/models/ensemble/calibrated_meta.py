"""Calibrated logistic meta-learner: multinomial logistic regression, then per-class isotonic or Platt
calibration fitted on a later, purged slice of the rows — time-ordered, never shuffled.

Without a validation set the stacked rows (in time order) are split into
``[fit rows] [purge_rows dropped] [latest calibration_frac of the rows]``: the logistic learns on
the fit rows, the calibrators on the calibration slice. ``purge_rows`` should cover the label
horizon in rows, so no fit row's label window reaches into the calibration slice. With a
validation set (which the caller purged), the logistic learns on all training rows and the
calibrators on the validation rows, which must all be later than the training rows.

Calibration is one-vs-rest per class, then rows are renormalised (as scikit-learn does):
``method: sigmoid`` (Platt) maps each class's probability through ``sigmoid(a·logit(p) + b)``;
``method: isotonic`` through a monotone step function (needs a large slice). Calibrated values
are floored at ``PROBA_FLOOR`` before renormalising, so a class an isotonic map sends to 0 keeps a
finite log loss. A class absent from the calibration slice keeps its uncalibrated probability
(listed in ``uncalibrated_classes_``). The time spans of both slices are recorded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from mlfactory.errors import DataError
from mlfactory.models.base import Dataset, ModelParams
from mlfactory.models.config import categorical_dim, float_dim
from mlfactory.models.ensemble._base import StackedModel, latest_slice
from mlfactory.models.registry import register
from mlfactory.models.tabular._base import ClassWeight, ValArrays, dump_skops, limit_threads, load_skops

MODEL_FILE = "model.skops"
TRUSTED_TYPES = (
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.isotonic.IsotonicRegression",
)
PROBA_FLOOR = 1e-6
PLATT_C = 1e4  # nearly unpenalised two-parameter fit


class CalibratedMetaParams(ModelParams):
    C: float = Field(1.0, gt=0, description="inverse L2 strength of the logistic regression")
    method: Literal["sigmoid", "isotonic"] = Field("sigmoid", description="sigmoid = Platt scaling")
    calibration_frac: float = Field(
        0.3,
        gt=0,
        lt=1,
        description="latest share of rows that fits the calibrators when no validation set is given",
    )
    purge_rows: int = Field(20, ge=0, description="rows dropped between the fit and calibration slices")
    max_iter: int = Field(1000, ge=1)
    class_weight: ClassWeight = "none"


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return (np.log(p) - np.log1p(-p))[:, None]


@register
class CalibratedMetaModel(StackedModel):
    name = "calibrated_meta"
    Params = CalibratedMetaParams
    search_space: ClassVar[dict[str, Any]] = {
        "C": float_dim(1e-3, 10.0, log=True),
        "method": categorical_dim("sigmoid", "isotonic"),
    }

    params: CalibratedMetaParams

    def fit(self, train: Dataset, val: Dataset | None = None) -> CalibratedMetaModel:
        self._spans_source = (train.timestamps, None if val is None else val.timestamps)
        try:
            return super().fit(train, val)  # type: ignore[return-value]
        finally:
            del self._spans_source

    def _fit_arrays(self, x: np.ndarray, y: np.ndarray, w: np.ndarray, val: ValArrays | None) -> None:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        p = self.params
        ts, val_ts = self._spans_source
        if val is not None:
            if val_ts.min() <= ts.max():
                raise DataError(
                    f"model {self.name!r}: validation rows start at or before the last training row; "
                    "calibration must use later rows — pass a validation set that follows the training period"
                )
            fit_rows = np.arange(len(y))
            cx, cy, cw = val
            self.calibration_span_ = (int(val_ts.min()), int(val_ts.max()))
        else:
            fit_rows, cal_rows = latest_slice(
                len(y), p.calibration_frac, p.purge_rows, f"{self.name} calibration"
            )
            cx, cy, cw = x[cal_rows], y[cal_rows], w[cal_rows]
            self.calibration_span_ = (int(ts[cal_rows[0]]), int(ts[cal_rows[-1]]))
        self.fit_span_ = (int(ts[fit_rows[0]]), int(ts[fit_rows[-1]]))
        logistic = make_pipeline(
            StandardScaler(), LogisticRegression(C=p.C, max_iter=p.max_iter, random_state=self.seed)
        )
        with limit_threads(self.threads):
            logistic.fit(x[fit_rows], y[fit_rows], logisticregression__sample_weight=w[fit_rows])
            raw = self._raw(logistic, cx)
            calibrators: list[Any] = []
            for c in range(self.n_classes_):
                target = (cy == c).astype(np.int64)
                if target.min() == target.max():  # absent (or the only class): nothing to learn
                    calibrators.append(None)
                elif p.method == "isotonic":
                    from sklearn.isotonic import IsotonicRegression

                    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
                    calibrators.append(iso.fit(raw[:, c], target, sample_weight=cw))
                else:
                    platt = LogisticRegression(C=PLATT_C, max_iter=1000)
                    calibrators.append(platt.fit(_logit(raw[:, c]), target, sample_weight=cw))
        self.logistic_, self.calibrators_ = logistic, calibrators
        self.uncalibrated_classes_ = [
            int(self.classes_[c]) for c, cal in enumerate(calibrators) if cal is None
        ]

    def _raw(self, logistic: Any, x: np.ndarray) -> np.ndarray:
        """Logistic probabilities over all ``k`` coded classes (a class missing from the fit rows gets 0)."""
        out = np.zeros((len(x), self.n_classes_))
        out[:, logistic.classes_] = logistic.predict_proba(x)
        return out

    def _predict_arrays(self, x: np.ndarray) -> np.ndarray:
        with limit_threads(self.threads):
            raw = self._raw(self.logistic_, x)
            out = raw.copy()
            for c, cal in enumerate(self.calibrators_):
                if cal is None:
                    continue
                if self.params.method == "isotonic":
                    out[:, c] = cal.predict(raw[:, c])
                else:
                    out[:, c] = cal.predict_proba(_logit(raw[:, c]))[:, 1]
        out = np.maximum(out, PROBA_FLOOR)
        return out / out.sum(axis=1, keepdims=True)

    def _save_native(self, directory: Path) -> list[str]:
        dump_skops({"logistic": self.logistic_, "calibrators": self.calibrators_}, directory / MODEL_FILE)
        return [MODEL_FILE]

    def _load_native(self, directory: Path, meta: dict[str, Any]) -> None:
        obj = load_skops(directory / MODEL_FILE, TRUSTED_TYPES)
        self.logistic_, self.calibrators_ = obj["logistic"], list(obj["calibrators"])
        self.fit_span_ = tuple(meta["fit_span"])
        self.calibration_span_ = tuple(meta["calibration_span"])
        self.uncalibrated_classes_ = list(meta["uncalibrated_classes"])

    def _extra_meta(self) -> dict[str, Any]:
        return {
            "fit_span": list(self.fit_span_),
            "calibration_span": list(self.calibration_span_),
            "uncalibrated_classes": self.uncalibrated_classes_,
        }
