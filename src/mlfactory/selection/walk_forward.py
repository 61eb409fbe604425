"""Walk-forward feature selection: importance fitted inside each training fold only.

For every fold of the run's shared splits (``mlfactory.splits``: walk-forward, PurgedKFold, ...),
feature importance is computed on that fold's *training* rows alone (MDA and SFI on a purged
K-fold inside them). Each fold yields its own top-k, which is what a model predicting that fold's
test rows may use; the folds' rankings are averaged (mean rank) into one top-k for the final
model. Rows outside every training fold (the rows being predicted) are never read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from mlfactory.errors import ArtifactError, ConfigError, DataError
from mlfactory.selection._common import (
    ClassifierFactory,
    FeatureImportance,
    check_features,
    check_labels,
    check_optional_depth,
    check_positive_int,
    check_weights,
    default_classifier,
)
from mlfactory.selection.importance import mda_importance, mdi_importance, sfi_importance
from mlfactory.splits.folds import Fold, check_embargo, check_windows

METHODS: tuple[str, ...] = ("mdi", "mda", "sfi")


@dataclass(frozen=True)
class SelectionParams:
    """How importance is measured inside each training fold (plain data; hashed by the cache)."""

    method: str = "mdi"
    n_estimators: int = 100
    max_depth: int | None = 5
    inner_splits: int = 3  # purged K-fold inside a training fold (MDA, SFI)
    embargo_ns: int = 0
    n_repeats: int = 1  # permutations per feature and fold (MDA)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"method: expected one of {METHODS}, got {self.method!r}")
        check_positive_int(self.n_estimators, "n_estimators")
        check_optional_depth(self.max_depth)
        check_positive_int(self.inner_splits, "inner_splits", 2)
        check_embargo(self.embargo_ns)
        check_positive_int(self.n_repeats, "n_repeats")
        check_positive_int(self.seed, "seed", 0)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SelectionResult:
    """Chosen features overall and per fold, with the evidence (fold importances, mean ranks).

    ``fold_selected`` (via ``selected_for_fold``) is what a model predicting a fold's test rows may
    use; ``selected`` pools every training fold (under PurgedKFold, every row) and is meant for the
    final model retrained on the whole training period, never for out-of-fold predictions.

    ``mean_rank`` and ``fold_importance`` are empty when no ranking was needed (all candidates kept).
    """

    candidates: tuple[str, ...]
    selected: tuple[str, ...]  # best mean rank first
    fold_ids: tuple[int, ...]
    fold_selected: tuple[tuple[str, ...], ...]
    mean_rank: tuple[float, ...] = ()
    fold_importance: tuple[FeatureImportance, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)

    def selected_for_fold(self, fold_id: int) -> tuple[str, ...]:
        """Features chosen from fold ``fold_id``'s training rows (for predicting its test rows)."""
        if fold_id not in self.fold_ids:
            raise ConfigError(f"fold_id: {fold_id} is not one of the selection's folds {list(self.fold_ids)}")
        return self.fold_selected[self.fold_ids.index(fold_id)]

    def as_dict(self) -> dict[str, Any]:
        return {
            "candidates": list(self.candidates),
            "selected": list(self.selected),
            "fold_ids": list(self.fold_ids),
            "fold_selected": [list(s) for s in self.fold_selected],
            "mean_rank": list(self.mean_rank),
            "fold_importance": [fi.as_dict() for fi in self.fold_importance],
            "params": self.params,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SelectionResult:
        try:
            return cls(
                tuple(d["candidates"]),
                tuple(d["selected"]),
                tuple(int(i) for i in d["fold_ids"]),
                tuple(tuple(s) for s in d["fold_selected"]),
                tuple(float(r) for r in d["mean_rank"]),
                tuple(FeatureImportance.from_dict(fi) for fi in d["fold_importance"]),
                dict(d["params"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtifactError(f"selection record is malformed ({exc!r})") from exc


def check_folds(folds: Sequence[Fold], n: int) -> list[Fold]:
    """Folds must index rows of X, train on at least one row, and never train on their own test rows."""
    folds = list(folds)
    if not folds:
        raise ConfigError("folds: need at least one fold (from mlfactory.splits)")
    for f in folds:
        tr, te = np.asarray(f.train_idx), np.asarray(f.test_idx)
        if tr.size == 0:
            raise DataError(f"folds: fold {f.fold_id} has no training rows")
        if tr.min() < 0 or tr.max() >= n or (te.size and (te.min() < 0 or te.max() >= n)):
            raise DataError(f"folds: fold {f.fold_id} indexes rows outside X ({n} rows)")
        if np.intersect1d(tr, te).size:
            raise DataError(f"folds: fold {f.fold_id} trains on its own test rows")
    if len({f.fold_id for f in folds}) != len(folds):
        raise DataError("folds: fold ids must be unique")
    return folds


def fold_importance(
    X: np.ndarray,
    y: np.ndarray,
    names: tuple[str, ...],
    ts: np.ndarray,
    t1: np.ndarray,
    w: np.ndarray | None,
    params: SelectionParams,
    classifier: ClassifierFactory | None,
    seed: int,
    n_jobs: int,
) -> FeatureImportance:
    """Importance on one training fold's rows (already subset)."""
    if params.method == "mdi":
        return mdi_importance(
            X, y, names, sample_weight=w, n_estimators=params.n_estimators,
            max_depth=params.max_depth, seed=seed, n_jobs=n_jobs,
        )  # fmt: skip
    factory = classifier or default_classifier(
        n_estimators=params.n_estimators, max_depth=params.max_depth, seed=seed, n_jobs=n_jobs
    )
    cv = {"ts": ts, "t1": t1, "n_splits": params.inner_splits, "embargo_ns": params.embargo_ns}
    if params.method == "mda":
        return mda_importance(
            X, y, names, **cv, sample_weight=w, classifier=factory, n_repeats=params.n_repeats, seed=seed
        )
    return sfi_importance(X, y, names, **cv, sample_weight=w, classifier=factory, seed=seed)


def walk_forward_selection(
    X: np.ndarray,
    y: np.ndarray,
    feature_names: Sequence[str],
    *,
    ts: np.ndarray,
    t1: np.ndarray,
    folds: Sequence[Fold],
    k: int,
    params: SelectionParams | None = None,
    sample_weight: np.ndarray | None = None,
    classifier: ClassifierFactory | None = None,
    n_jobs: int = 1,
) -> SelectionResult:
    """Top-``k`` features per fold and overall (mean rank across folds), from training rows only.

    ``ts``/``t1``: decision times and label ends of the rows of ``X`` (int64 ns); ``folds`` index
    those rows. ``classifier`` replaces the default random forest of MDA/SFI.
    """
    params = params or SelectionParams()
    X, names = check_features(X, feature_names)
    n = X.shape[0]
    y = check_labels(y, n)
    w = check_weights(sample_weight, n)
    ts, t1 = check_windows(ts, t1)
    if ts.size != n:
        raise DataError(f"ts: expected {n} timestamps (one per row of X), got {ts.size}")
    k = check_positive_int(k, "k")
    if k > len(names):
        raise ConfigError(f"k: cannot select {k} of {len(names)} candidate features")
    folds = check_folds(folds, n)
    importances, ranks = [], []
    for f in folds:
        tr = np.asarray(f.train_idx, dtype=np.int64)
        imp = fold_importance(
            X[tr], y[tr], names, ts[tr], t1[tr], None if w is None else w[tr],
            params, classifier, params.seed + f.fold_id, n_jobs,
        )  # fmt: skip
        importances.append(imp)
        ranks.append(imp.ranks())
    mean_rank = np.mean(ranks, axis=0)
    order = np.argsort(mean_rank, kind="stable")[:k]
    return SelectionResult(
        candidates=names,
        selected=tuple(names[i] for i in order),
        fold_ids=tuple(f.fold_id for f in folds),
        fold_selected=tuple(imp.ranking()[:k] for imp in importances),
        mean_rank=tuple(float(r) for r in mean_rank),
        fold_importance=tuple(importances),
        params={**params.as_dict(), "k": k, "classifier": "default" if classifier is None else "custom"},
    )
