"""Robust scaling (median / IQR per column) fitted on training rows only, persisted as JSON.

``transform`` maps ``x -> (x - median) / (q75 - q25)`` with the statistics of the training rows
(NaNs ignored when fitting and kept as NaN when transforming; the same definitions as
scikit-learn's ``RobustScaler``). A column whose training IQR is 0 (constant or nearly constant on
training rows) is only centred: its scale is set to 1 and the column is listed in
``zero_iqr_columns`` so the caller can see it. A column with no finite training value, or any
infinite value, is an error.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np

from mlfactory.errors import ArtifactError, DataError


class RobustScaler:
    """Per-column median/IQR scaler; fitted state in ``center_``, ``scale_``, ``zero_iqr_``."""

    def __init__(self, columns: Sequence[str] | None = None) -> None:
        self.columns = list(columns) if columns is not None else None
        self.center_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None
        self.zero_iqr_: np.ndarray | None = None
        self.n_train_rows_: int | None = None

    def _name(self, j: int) -> str:
        return f"column {self.columns[j]!r}" if self.columns else f"column {j}"

    def _check_matrix(self, X: np.ndarray, what: str) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim != 2 or not np.issubdtype(X.dtype, np.floating):
            raise DataError(f"{what}: expected a 2-D float array, got dtype {X.dtype}, shape {X.shape}")
        if self.columns is not None and X.shape[1] != len(self.columns):
            raise DataError(
                f"{what}: expected {len(self.columns)} columns ({self.columns[:3]}...), got {X.shape[1]}"
            )
        if self.center_ is not None and X.shape[1] != self.center_.size:
            raise DataError(f"{what}: scaler was fitted on {self.center_.size} columns, got {X.shape[1]}")
        return X

    def fit(self, X: np.ndarray, train_mask: np.ndarray) -> RobustScaler:
        """Fit on the rows where ``train_mask`` is True (the only rows read)."""
        self.center_ = self.scale_ = self.zero_iqr_ = None
        X = self._check_matrix(X, "X")
        train_mask = np.asarray(train_mask)
        if train_mask.dtype != np.bool_ or train_mask.shape != (X.shape[0],):
            raise DataError(
                f"train_mask: expected a bool array of shape ({X.shape[0]},), got {train_mask.dtype} {train_mask.shape}"
            )
        rows = np.flatnonzero(train_mask)
        if rows.size == 0:
            raise DataError("train_mask: no training rows to fit the scaler on")
        q = np.empty((X.shape[1], 3))
        for j in range(X.shape[1]):
            col = X[rows, j].astype(np.float64)
            if np.isinf(col).any():
                raise DataError(
                    f"X: {self._name(j)} has infinite values on training rows; fix the feature first"
                )
            col = col[~np.isnan(col)]
            if col.size == 0:
                raise DataError(f"X: {self._name(j)} has no finite value on training rows; drop the column")
            q[j] = np.quantile(col, [0.25, 0.5, 0.75])
        iqr = q[:, 2] - q[:, 0]
        self.zero_iqr_ = iqr == 0
        self.center_ = q[:, 1]
        self.scale_ = np.where(self.zero_iqr_, 1.0, iqr)
        self.n_train_rows_ = int(rows.size)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Scale every row of ``X`` (train, val or test) with the training statistics; keeps the dtype."""
        if self.center_ is None or self.scale_ is None:
            raise DataError("RobustScaler: not fitted; call fit(X, train_mask) or load it with from_json")
        X = self._check_matrix(X, "X")
        out = X - self.center_.astype(X.dtype)  # in X's dtype: no float64 copy of a float32 matrix
        out /= self.scale_.astype(X.dtype)
        return out

    @property
    def zero_iqr_columns(self) -> list[str | int]:
        if self.zero_iqr_ is None:
            return []
        idx = np.flatnonzero(self.zero_iqr_)
        return [self.columns[j] for j in idx] if self.columns else [int(j) for j in idx]

    def to_json(self) -> str:
        if self.center_ is None or self.scale_ is None or self.zero_iqr_ is None:
            raise DataError("RobustScaler: not fitted; nothing to save")
        return json.dumps(
            {
                "kind": "robust_scaler",
                "columns": self.columns,
                "center": self.center_.tolist(),
                "scale": self.scale_.tolist(),
                "zero_iqr": self.zero_iqr_.tolist(),
                "n_train_rows": self.n_train_rows_,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> RobustScaler:
        try:
            d = json.loads(text)
            if d.get("kind") != "robust_scaler":
                raise ValueError(f"kind is {d.get('kind')!r}, not 'robust_scaler'")
            scaler = cls(d["columns"])
            scaler.center_ = np.asarray(d["center"], dtype=np.float64)
            scaler.scale_ = np.asarray(d["scale"], dtype=np.float64)
            scaler.zero_iqr_ = np.asarray(d["zero_iqr"], dtype=bool)
            scaler.n_train_rows_ = int(d["n_train_rows"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ArtifactError(
                f"robust scaler JSON: malformed or incomplete ({exc}); re-fit and save it"
            ) from exc
        sizes = {scaler.center_.size, scaler.scale_.size, scaler.zero_iqr_.size}
        if len(sizes) != 1 or (scaler.columns is not None and len(scaler.columns) not in sizes):
            raise ArtifactError("robust scaler JSON: center, scale, zero_iqr and columns differ in length")
        if not (np.isfinite(scaler.scale_).all() and (scaler.scale_ > 0).all()):
            raise ArtifactError("robust scaler JSON: scale must be finite and > 0 in every column")
        return scaler
