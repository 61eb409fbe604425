"""Clustered feature importance (López de Prado, *Machine Learning for Asset Managers*, ch. 6).

Correlated features share (and so dilute) their importance under MDI and mask each other under
MDA. Clustering them first and measuring the importance of each *cluster* removes those
substitution effects:

1. distance between features ``d = sqrt((1 - rho) / 2)`` (0 for identical, 1 for opposite);
2. hierarchical clustering of that distance (scipy), cut at ``n_clusters``, at a
   ``distance_threshold``, or at the number of clusters with the best mean silhouette;
3. clustered MDI: per tree, the sum of the cluster members' impurity importances (snippet 6.4);
   clustered MDA: all the cluster's columns permuted jointly, per purged fold (snippet 6.5).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform
from scipy.stats import rankdata
from sklearn.metrics import silhouette_score

from mlfactory.errors import ArtifactError, ConfigError, DataError
from mlfactory.selection._common import (
    ClassifierFactory,
    FeatureImportance,
    check_features,
    check_labels,
    check_positive_int,
    check_weights,
    default_classifier,
    mean_and_se,
)
from mlfactory.selection.importance import cv_folds, grouped_mda, mdi_per_tree

Correlation = Literal["pearson", "spearman"]
LINKAGE_METHODS = ("average", "complete", "single", "ward")


@dataclass(frozen=True)
class FeatureClusters:
    """A partition of features: ``labels[j]`` is the cluster of ``names[j]`` (numbered by first member)."""

    names: tuple[str, ...]
    labels: np.ndarray  # int64 (f,)
    silhouette: float  # mean silhouette of the partition (NaN where undefined)

    @property
    def n_clusters(self) -> int:
        return int(self.labels.max()) + 1

    def column_groups(self) -> list[np.ndarray]:
        """Column indices of each cluster, in cluster order."""
        return [np.flatnonzero(self.labels == c) for c in range(self.n_clusters)]

    def members(self) -> tuple[tuple[str, ...], ...]:
        return tuple(tuple(self.names[j] for j in cols) for cols in self.column_groups())

    def as_dict(self) -> dict[str, Any]:
        return {"names": list(self.names), "labels": self.labels.tolist(), "silhouette": self.silhouette}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureClusters:
        try:
            return cls(tuple(d["names"]), np.asarray(d["labels"], dtype=np.int64), float(d["silhouette"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtifactError(f"feature clusters record is malformed ({exc!r})") from exc


def correlation_distance(
    X: np.ndarray, feature_names: Sequence[str], *, correlation: Correlation = "pearson"
) -> np.ndarray:
    """``(f, f)`` matrix ``sqrt((1 - rho) / 2)`` of the columns' correlations ``rho``."""
    X, names = check_features(X, feature_names)
    if correlation not in ("pearson", "spearman"):
        raise ConfigError(f"correlation: expected 'pearson' or 'spearman', got {correlation!r}")
    if X.shape[0] < 3:
        raise DataError(f"X: correlations need at least 3 rows, got {X.shape[0]}")
    data = rankdata(X, axis=0) if correlation == "spearman" else X.astype(np.float64)
    flat = data.std(axis=0) == 0
    if flat.any():
        bad = [names[j] for j in np.flatnonzero(flat)[:5]]
        raise DataError(f"X: constant columns {bad} have no correlation; drop them before clustering")
    rho = np.corrcoef(data, rowvar=False) if X.shape[1] > 1 else np.ones((1, 1))
    dist = np.sqrt(np.clip((1.0 - rho) / 2.0, 0.0, 1.0))
    dist = (dist + dist.T) / 2.0
    np.fill_diagonal(dist, 0.0)
    return dist


def _renumber(raw: np.ndarray) -> np.ndarray:
    """Cluster ids 0..k-1 in order of each cluster's first column (deterministic naming)."""
    _, first, inverse = np.unique(raw, return_index=True, return_inverse=True)
    new_id = np.empty(first.size, dtype=np.int64)
    new_id[np.argsort(first)] = np.arange(first.size)
    return new_id[inverse]


def _silhouette(dist: np.ndarray, labels: np.ndarray) -> float:
    k = np.unique(labels).size
    if k < 2 or k > labels.size - 1:
        return float("nan")
    return float(silhouette_score(dist, labels, metric="precomputed"))


def cluster_features(
    X: np.ndarray,
    feature_names: Sequence[str],
    *,
    n_clusters: int | None = None,
    distance_threshold: float | None = None,
    max_clusters: int | None = None,
    linkage_method: str = "average",
    correlation: Correlation = "pearson",
) -> FeatureClusters:
    """Hierarchical clustering of features on the correlation distance.

    Give ``n_clusters`` or ``distance_threshold`` (a cut in [0, 1]); with neither, every cut of 2 ..
    ``max_clusters`` (default ``f - 1``) clusters is tried and the best mean silhouette wins (the
    fewer clusters on ties).
    """
    dist = correlation_distance(X, feature_names, correlation=correlation)
    names = tuple(feature_names)
    f = len(names)
    if linkage_method not in LINKAGE_METHODS:
        raise ConfigError(f"linkage_method: expected one of {LINKAGE_METHODS}, got {linkage_method!r}")
    if n_clusters is not None and distance_threshold is not None:
        raise ConfigError("n_clusters and distance_threshold: give one of them, not both")
    if f == 1:
        return FeatureClusters(names, np.zeros(1, dtype=np.int64), float("nan"))
    tree = linkage(squareform(dist, checks=False), method=linkage_method)
    if n_clusters is not None:
        n_clusters = check_positive_int(n_clusters, "n_clusters")
        if n_clusters > f:
            raise ConfigError(f"n_clusters: {n_clusters} clusters for only {f} features")
        labels = _renumber(fcluster(tree, n_clusters, criterion="maxclust"))
        return FeatureClusters(names, labels, _silhouette(dist, labels))
    if distance_threshold is not None:
        if not 0.0 <= distance_threshold <= 1.0:
            raise ConfigError(f"distance_threshold: expected a value in [0, 1], got {distance_threshold!r}")
        labels = _renumber(fcluster(tree, distance_threshold, criterion="distance"))
        return FeatureClusters(names, labels, _silhouette(dist, labels))
    if f < 3:
        raise ConfigError(
            f"cluster_features: the silhouette is undefined for {f} features; give n_clusters or distance_threshold"
        )
    top = f - 1 if max_clusters is None else min(check_positive_int(max_clusters, "max_clusters", 2), f - 1)
    best: FeatureClusters | None = None
    for k in range(2, top + 1):
        labels = _renumber(fcluster(tree, k, criterion="maxclust"))
        score = _silhouette(dist, labels)
        if np.isfinite(score) and (best is None or score > best.silhouette):
            best = FeatureClusters(names, labels, score)
    if best is None:
        raise DataError("cluster_features: no cut of the dendrogram has a defined silhouette")
    return best


def _cluster_names(clusters: FeatureClusters) -> tuple[str, ...]:
    return tuple(f"cluster_{c}" for c in range(clusters.n_clusters))


def clustered_mdi_importance(
    X: np.ndarray,
    y: np.ndarray,
    clusters: FeatureClusters,
    *,
    sample_weight: np.ndarray | None = None,
    n_estimators: int = 100,
    max_depth: int | None = 5,
    max_samples: float | None = None,
    estimator: str = "random_forest",
    seed: int = 0,
    n_jobs: int = 1,
) -> FeatureImportance:
    """MDI per cluster: per tree, the sum of its members' importances; means normalised to sum 1.

    ``X`` columns are ``clusters.names`` in that order.
    """
    X, _ = check_features(X, clusters.names)
    y = check_labels(y, X.shape[0])
    w = check_weights(sample_weight, X.shape[0])
    per_tree = mdi_per_tree(
        X, y, sample_weight=w, n_estimators=n_estimators, max_depth=max_depth,
        max_samples=max_samples, estimator=estimator, seed=seed, n_jobs=n_jobs,
    )  # fmt: skip
    filled = np.nan_to_num(per_tree, nan=0.0)
    sums = np.stack([filled[:, cols].sum(axis=1) for cols in clusters.column_groups()], axis=1)
    mean, se = mean_and_se(sums)
    total = mean.sum()
    if total > 0:
        mean, se = mean / total, se / total
    return FeatureImportance("clustered_mdi", _cluster_names(clusters), mean, se, clusters.members())


def clustered_mda_importance(
    X: np.ndarray,
    y: np.ndarray,
    clusters: FeatureClusters,
    *,
    ts: np.ndarray,
    t1: np.ndarray,
    n_splits: int = 5,
    embargo_ns: int = 0,
    sample_weight: np.ndarray | None = None,
    classifier: ClassifierFactory | None = None,
    n_repeats: int = 1,
    seed: int = 0,
    n_jobs: int = 1,
) -> FeatureImportance:
    """MDA per cluster on purged K-fold CV: the cluster's columns are shuffled together."""
    X, _ = check_features(X, clusters.names)
    y = check_labels(y, X.shape[0])
    w = check_weights(sample_weight, X.shape[0])
    n_repeats = check_positive_int(n_repeats, "n_repeats")
    folds = cv_folds(ts, t1, X.shape[0], n_splits, embargo_ns)
    factory = classifier or default_classifier(seed=seed, n_jobs=n_jobs)
    imp, _ = grouped_mda(X, y, w, folds, clusters.column_groups(), factory, n_repeats, seed)
    mean, se = mean_and_se(imp)
    return FeatureImportance("clustered_mda", _cluster_names(clusters), mean, se, clusters.members())
