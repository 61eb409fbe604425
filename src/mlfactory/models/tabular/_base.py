"""Shared machinery of the tabular models: input checks, class weighting, label coding, save/load.

A subclass implements four hooks on plain arrays — ``_fit_arrays``, ``_predict_arrays``,
``_save_native`` and ``_load_native`` — and inherits the ``Model`` protocol around them.

Class weighting (``class_weight: balanced``): each row's weight is its sample weight times
``W / (k · W_c)``, where ``W_c`` is the total sample weight of its class in the training set, ``W``
the total over all classes and ``k`` the number of classes seen. Every class then carries the same
total weight (sklearn's "balanced" rule, generalised to weighted rows). Validation rows used for
early stopping or calibration get the *training* class factors, so the stopping metric measures the
objective being fitted. Probabilities of a class-balanced model are calibrated to balanced class
priors; ``class_weight: none`` keeps the empirical priors.

Labels are coded to ``0..k-1`` over the classes seen in training (libraries need contiguous codes);
``predict_proba`` maps the columns back onto (-1, 0, 1) and gives absent classes probability 0.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from mlfactory.adapters.views import ModelInput
from mlfactory.artifacts import atomic_directory, write_file_manifest
from mlfactory.errors import ArtifactError, ConfigError, DataError
from mlfactory.models.base import (
    CLASSES,
    META_FILE,
    PARAMS_FILE,
    Dataset,
    InputKind,
    Model,
    check_feature_names,
    normalise_proba,
    restore_model,
)

ClassWeight = Literal["balanced", "none"]
ValArrays = tuple[np.ndarray, np.ndarray, np.ndarray]  # (x, class codes, row weights) of the validation set


def balanced_class_factors(y: np.ndarray, w: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Per-class factors ``W / (k · W_c)`` (aligned with ``classes``) that equalise total class weight."""
    totals = np.array([w[y == c].sum() for c in classes], dtype=np.float64)
    if (totals <= 0).any():
        bad = classes[totals <= 0].tolist()
        raise DataError(f"training labels {bad} have zero total sample weight; drop them or fix the weights")
    return totals.sum() / (len(classes) * totals)


def resolve_n_jobs(n_jobs: int) -> int:
    """``n_jobs`` threads for a library: a positive count, or -1 for every core."""
    if n_jobs == -1:
        return os.cpu_count() or 1
    if n_jobs < 1:
        raise ConfigError(f"n_jobs: {n_jobs} is invalid; use a positive thread count or -1 for all cores")
    return n_jobs


_THREADPOOLS: Any = None


def limit_threads(n: int) -> Any:
    """A context capping the BLAS/OpenMP thread pools at ``n`` threads.

    The controller that finds the loaded libraries is built once per process: building it scans
    the process's shared libraries (about 5 ms), which a live predictor would pay at every bar.
    """
    global _THREADPOOLS
    if _THREADPOOLS is None:
        import sklearn  # noqa: F401  (load its OpenMP runtime before the scan)
        from threadpoolctl import ThreadpoolController

        _THREADPOOLS = ThreadpoolController()
    return _THREADPOOLS.limit(limits=n)


class TabularModel(Model):
    """Base of the 2D models; subclasses fill in the array-level hooks."""

    input_kind = InputKind.TABULAR
    allows_nan: ClassVar[bool] = True
    uses_validation: ClassVar[bool] = True  # False: ``val`` is ignored, so OOF carves no inner slice
    native_files: ClassVar[tuple[str, ...]] = ()
    # Trees compare float32 features exactly; linear and kernel models compute in float64, because
    # scikit-learn's float32 paths (Nyström's distances, GEMM blocking) give a row a result that
    # depends on the other rows of the batch — a prediction at t must not depend on later rows.
    compute_dtype: ClassVar[type] = np.float32

    # fitted state
    classes_: np.ndarray
    feature_names_: tuple[str, ...]

    # ------------------------------------------------------------------------------------- protocol

    def fit(self, train: Dataset, val: Dataset | None = None) -> TabularModel:
        x, y, w = self._arrays(train, "train")
        classes = np.unique(y)
        if len(classes) < 2:
            raise DataError(
                f"model {self.name!r}: training labels hold only class {classes.tolist()}; "
                "a classifier needs at least two classes — use a longer training period"
            )
        self.classes_ = classes.astype(np.int64)
        self.feature_names_ = tuple(train.x.feature_names)
        code = np.searchsorted(classes, y)
        factors = self._class_factors(y, w)
        w_fit = w * factors[code]
        val_arrays = None
        if val is not None:
            if tuple(val.x.feature_names) != self.feature_names_:
                raise DataError(f"model {self.name!r}: validation features differ from the training features")
            xv, yv, wv = self._arrays(val, "val")
            known = np.isin(yv, classes)  # a class absent from training cannot be scored
            xv, yv, wv = xv[known], yv[known], wv[known]
            if len(yv):
                cv = np.searchsorted(classes, yv)
                val_arrays = (xv, cv, wv * factors[cv])
        self._fit_arrays(x, code, w_fit, val_arrays)
        return self

    def predict_proba(self, x: ModelInput) -> np.ndarray:
        if not hasattr(self, "classes_"):
            raise DataError(f"model {self.name!r} is not fitted; call fit() or load() first")
        self.check_input(x)
        check_feature_names(self, self.feature_names_, x)
        arr = self._matrix(x.x, "predict")
        if len(arr) == 0:
            return np.zeros((0, len(CLASSES)))
        return normalise_proba(self._predict_arrays(arr), self.classes_)

    def save(self, directory: Path, *, generation: str | None = None) -> None:
        if not hasattr(self, "classes_"):
            raise DataError(f"model {self.name!r} is not fitted; nothing to save")
        with atomic_directory(Path(directory)) as tmp:
            self._save_files(tmp, generation)

    def _save_files(self, directory: Path, generation: str | None) -> None:
        files = list(self._save_native(directory))
        (directory / PARAMS_FILE).write_text(json.dumps(self.get_params(), indent=2, sort_keys=True))
        meta = {
            "model": self.name,
            "seed": self.seed,
            "n_jobs": self.n_jobs,
            "classes": self.classes_.tolist(),
            "feature_names": list(self.feature_names_),
            **self._extra_meta(),
        }
        (directory / META_FILE).write_text(json.dumps(meta, indent=2))
        write_file_manifest(directory, [*files, PARAMS_FILE, META_FILE], generation=generation)

    @classmethod
    def load(cls, directory: Path) -> TabularModel:
        directory = Path(directory)
        model, meta = restore_model(cls, directory)
        model.classes_ = np.asarray(meta["classes"], dtype=np.int64)
        model.feature_names_ = tuple(meta["feature_names"])
        model._load_native(directory, meta)
        return model

    # ------------------------------------------------------------------------------------- hooks

    def _fit_arrays(
        self,
        x: np.ndarray,
        y: np.ndarray,
        w: np.ndarray,
        val: ValArrays | None,
    ) -> None:
        """Fit on float32 ``x``, codes ``y`` in ``0..k-1`` and final row weights ``w``."""
        raise NotImplementedError

    def _predict_arrays(self, x: np.ndarray) -> np.ndarray:
        """``(n, k)`` probabilities over the coded classes."""
        raise NotImplementedError

    def _save_native(self, directory: Path) -> list[str]:
        """Write the fitted estimator; return the file names written."""
        raise NotImplementedError

    def _load_native(self, directory: Path, meta: dict[str, Any]) -> None:
        raise NotImplementedError

    def _extra_meta(self) -> dict[str, Any]:
        return {}

    # ------------------------------------------------------------------------------------- helpers

    @property
    def n_classes_(self) -> int:
        return len(self.classes_)

    @property
    def threads(self) -> int:
        return resolve_n_jobs(self.n_jobs)

    def _class_factors(self, y: np.ndarray, w: np.ndarray) -> np.ndarray:
        if getattr(self.params, "class_weight", "none") == "balanced":
            return balanced_class_factors(y, w, self.classes_)
        return np.ones(len(self.classes_))

    def _arrays(self, data: Dataset, role: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self.check_input(data.x)
        x = self._matrix(data.x.x, role)
        if len(x) == 0:
            raise DataError(f"model {self.name!r}: the {role} set is empty")
        y = np.asarray(data.y).astype(np.int64)
        if data.sample_weight is None:
            w = np.ones(len(y))
        else:
            w = np.asarray(data.sample_weight, dtype=np.float64)
            if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
                raise DataError(
                    f"model {self.name!r}: {role} sample weights must be finite, >= 0 and not all 0"
                )
        return x, y, w

    def _matrix(self, x: np.ndarray, role: str) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=self.compute_dtype)
        if np.isinf(x).any():
            cols = np.flatnonzero(np.isinf(x).any(axis=0))[:5].tolist()
            raise DataError(
                f"model {self.name!r}: {role} features hold ±inf (columns {cols}); clean the features"
            )
        if not self.allows_nan and np.isnan(x).any():
            cols = np.flatnonzero(np.isnan(x).any(axis=0))[:5].tolist()
            raise DataError(
                f"model {self.name!r}: {role} features hold NaN (columns {cols}) and this model cannot take "
                "missing values; drop warm-up rows or impute upstream"
            )
        return x


def dump_skops(obj: Any, path: Path) -> None:
    """Write a scikit-learn object with skops (a safe format: no arbitrary code on load)."""
    import skops.io as sio

    sio.dump(obj, path)


def load_skops(path: Path, trusted: tuple[str, ...]) -> Any:
    """Load a skops file, allowing only the explicitly ``trusted`` types; anything else is refused."""
    import skops.io as sio

    untrusted = sorted(set(sio.get_untrusted_types(file=path)) - set(trusted))
    if untrusted:
        raise ArtifactError(f"{path}: holds types outside the trusted list {untrusted}; refusing to load it")
    return sio.load(path, trusted=list(trusted))
