"""Shared pieces of feature selection: input checks, the importance record, scoring, default classifier."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from scipy.stats import rankdata
from sklearn.ensemble import RandomForestClassifier

from mlfactory.errors import ArtifactError, ConfigError, DataError
from mlfactory.models.base import CLASSES, normalise_proba

_EPS = float(np.finfo(np.float64).eps)  # the clip of sklearn.metrics.log_loss


class Classifier(Protocol):
    """The sklearn estimator surface used here: ``fit``, ``predict_proba`` and ``classes_``."""

    classes_: np.ndarray

    def fit(self, X: np.ndarray, y: np.ndarray, **kwargs: Any) -> Any: ...

    def predict_proba(self, X: np.ndarray) -> np.ndarray: ...


ClassifierFactory = Callable[[], Classifier]


@dataclass(frozen=True, eq=False)
class FeatureImportance:
    """Importance of each feature (or cluster): mean and standard error over trees or folds.

    Higher ``mean`` is more important for every method. ``members`` lists the features of each
    entry when the entries are clusters.
    """

    method: str
    names: tuple[str, ...]
    mean: np.ndarray  # float64 (len(names),)
    std: np.ndarray  # standard error of the mean
    members: tuple[tuple[str, ...], ...] | None = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FeatureImportance):
            return NotImplemented
        return (
            (self.method, self.names, self.members) == (other.method, other.names, other.members)
            and np.array_equal(self.mean, other.mean)
            and np.array_equal(self.std, other.std)
        )

    __hash__ = None  # type: ignore[assignment]  # mutable arrays inside

    def ranks(self) -> np.ndarray:
        """1 = most important; ties share their average rank."""
        return rankdata(-self.mean, method="average")

    def ranking(self) -> tuple[str, ...]:
        """Names from most to least important (ties keep their input order)."""
        return tuple(self.names[i] for i in np.argsort(-self.mean, kind="stable"))

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "method": self.method,
            "names": list(self.names),
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
        }
        if self.members is not None:
            out["members"] = [list(m) for m in self.members]
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureImportance:
        try:
            members = d.get("members")
            return cls(
                str(d["method"]),
                tuple(str(n) for n in d["names"]),
                np.asarray(d["mean"], dtype=np.float64),
                np.asarray(d["std"], dtype=np.float64),
                None if members is None else tuple(tuple(str(n) for n in m) for m in members),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtifactError(f"feature importance record is malformed ({exc!r})") from exc


def mean_and_se(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error (``std / sqrt(n)``) down axis 0 of an ``(n, k)`` array."""
    n = values.shape[0]
    std = values.std(axis=0, ddof=1) if n > 1 else np.zeros(values.shape[1])
    return values.mean(axis=0), std / np.sqrt(n)


def check_features(X: np.ndarray, feature_names: Sequence[str]) -> tuple[np.ndarray, tuple[str, ...]]:
    """``X`` must be a finite 2-D float array with one unique name per column."""
    X = np.asarray(X)
    if X.ndim != 2 or not np.issubdtype(X.dtype, np.floating):
        raise DataError(f"X: expected a 2-D float array (n, f), got dtype {X.dtype}, shape {X.shape}")
    names = tuple(feature_names)
    if len(names) != X.shape[1]:
        raise DataError(f"feature_names: {len(names)} names for {X.shape[1]} columns of X")
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise DataError(f"feature_names: duplicated names {dup[:5]}; every column needs a unique name")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise DataError(f"X: needs at least one row and one column, got shape {X.shape}")
    finite = np.isfinite(X).all(axis=0)
    if not finite.all():
        bad = [names[j] for j in np.flatnonzero(~finite)[:5]]
        raise DataError(
            f"X: columns {bad} hold NaN or infinite values; drop warm-up rows or impute before selection"
        )
    return X, names


def check_labels(y: np.ndarray, n: int) -> np.ndarray:
    y = np.asarray(y)
    if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"y: expected an integer array of shape ({n},), got dtype {y.dtype}, shape {y.shape}")
    bad = ~np.isin(y, CLASSES)
    if bad.any():
        raise DataError(f"y: labels must be -1, 0 or 1; found {np.unique(y[bad])[:5].tolist()}")
    if np.unique(y).size < 2:
        raise DataError("y: needs at least two distinct classes to measure importance")
    return y.astype(np.int8, copy=False)


def check_weights(sample_weight: np.ndarray | None, n: int) -> np.ndarray | None:
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.shape != (n,):
        raise DataError(f"sample_weight: expected shape ({n},), got {w.shape}")
    if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise DataError("sample_weight: weights must be finite, >= 0 and not all zero")
    return w


def check_positive_int(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ConfigError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    return int(value)


def check_optional_depth(max_depth: int | None) -> int | None:
    return None if max_depth is None else check_positive_int(max_depth, "max_depth")


def default_classifier(
    *, n_estimators: int = 100, max_depth: int | None = 5, seed: int = 0, n_jobs: int = 1
) -> ClassifierFactory:
    """A factory of small seeded random forests (the default scorer of MDA, SFI)."""
    n_estimators = check_positive_int(n_estimators, "n_estimators")
    max_depth = check_optional_depth(max_depth)

    def make() -> RandomForestClassifier:
        return RandomForestClassifier(
            n_estimators=n_estimators,
            max_depth=max_depth,
            min_samples_leaf=10,
            random_state=seed,
            n_jobs=n_jobs,
        )

    return make


def fit_classifier(
    factory: ClassifierFactory, X: np.ndarray, y: np.ndarray, w: np.ndarray | None
) -> Classifier:
    clf = factory()
    if w is None:
        clf.fit(X, y)
    else:
        clf.fit(X, y, sample_weight=w)
    return clf


def predict_proba3(clf: Classifier, X: np.ndarray) -> np.ndarray:
    """``(n, 3)`` probabilities for classes (-1, 0, 1) whatever classes the classifier saw."""
    return normalise_proba(clf.predict_proba(X), np.asarray(clf.classes_))


def neg_log_loss(y: np.ndarray, proba3: np.ndarray, w: np.ndarray | None) -> float:
    """Weighted negative log loss (higher is better) of ``(n, 3)`` probabilities for (-1, 0, 1)."""
    p = np.clip(proba3[np.arange(y.size), y.astype(np.int64) + 1], _EPS, 1.0 - _EPS)
    if w is None:
        return float(np.log(p).mean())
    if w.sum() <= 0:
        raise DataError("sample_weight: a test fold has zero total weight; cannot score it")
    return float(np.average(np.log(p), weights=w))
