"""Clustered importance: near-duplicate informative features form one cluster, ranked first."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlfactory.errors import ConfigError, DataError
from mlfactory.selection import (
    FeatureClusters,
    cluster_features,
    clustered_mda_importance,
    clustered_mdi_importance,
    correlation_distance,
)

MIN = 60_000_000_000


@pytest.fixture(scope="module")
def duplicated():
    """Four near-copies of a latent driver of ``y``, a correlated pair of noise, and independent noise."""
    rng = np.random.default_rng(3)
    n = 1000
    z = rng.standard_normal(n)
    dups = z[:, None] + 0.15 * rng.standard_normal((n, 4))
    u = rng.standard_normal(n)
    pair = u[:, None] + 0.15 * rng.standard_normal((n, 2))
    noise = rng.standard_normal((n, 5))
    X = np.hstack([noise[:, :2], dups[:, :2], pair, dups[:, 2:], noise[:, 2:]]).astype(np.float32)
    names = ["n0", "n1", "d0", "d1", "p0", "p1", "d2", "d3", "n2", "n3", "n4"]
    score = z + 0.5 * rng.standard_normal(n)
    y = np.where(score > 0.5, 1, np.where(score < -0.5, -1, 0)).astype(np.int8)
    ts = 28_000_000 * MIN + np.arange(n, dtype=np.int64) * 5 * MIN
    return X, y, names, ts, ts + 15 * MIN


def _cluster_with(clusters: FeatureClusters, name: str) -> set[str]:
    return next(set(m) for m in clusters.members() if name in m)


def test_silhouette_groups_the_duplicates(duplicated):
    X, _, names, _, _ = duplicated
    clusters = cluster_features(X, names)
    assert _cluster_with(clusters, "d0") == {"d0", "d1", "d2", "d3"}
    assert _cluster_with(clusters, "p0") == {"p0", "p1"}
    assert np.isfinite(clusters.silhouette)
    assert clusters.labels[0] == 0  # numbered by first member
    assert sorted({c for m in clusters.members() for c in m}) == sorted(names)


def test_clustered_mdi_ranks_duplicate_cluster_first(duplicated):
    X, y, names, _, _ = duplicated
    clusters = cluster_features(X, names)
    imp = clustered_mdi_importance(X, y, clusters, n_estimators=60, seed=0)
    top = imp.ranking()[0]
    assert set(imp.members[imp.names.index(top)]) == {"d0", "d1", "d2", "d3"}
    assert imp.mean.sum() == pytest.approx(1.0)
    assert imp.mean.max() > 0.5


def test_clustered_mda_ranks_duplicate_cluster_first(duplicated):
    X, y, names, ts, t1 = duplicated
    clusters = cluster_features(X, names)
    imp = clustered_mda_importance(X, y, clusters, ts=ts, t1=t1, n_splits=3, seed=0)
    top = imp.ranking()[0]
    assert set(imp.members[imp.names.index(top)]) == {"d0", "d1", "d2", "d3"}
    others = np.delete(imp.mean, imp.names.index(top))
    assert imp.mean.max() > 0.1 and np.abs(others).max() < imp.mean.max() / 5


@pytest.mark.parametrize("correlation", ["pearson", "spearman"])
def test_correlation_distance_matches_pandas(duplicated, correlation):
    X, _, names, _, _ = duplicated
    rho = pd.DataFrame(X.astype(np.float64)).corr(method=correlation).to_numpy()
    expected = np.sqrt((1 - rho) / 2)
    np.fill_diagonal(expected, 0)
    np.testing.assert_allclose(correlation_distance(X, names, correlation=correlation), expected, atol=1e-7)


def test_fixed_cuts(duplicated):
    X, _, names, _, _ = duplicated
    assert cluster_features(X, names, n_clusters=3).n_clusters == 3
    tight = cluster_features(X, names, distance_threshold=0.2)
    assert _cluster_with(tight, "d0") == {"d0", "d1", "d2", "d3"}
    assert _cluster_with(tight, "n0") == {"n0"}
    restored = FeatureClusters.from_dict(tight.as_dict())
    assert restored.members() == tight.members()


def test_bad_inputs(duplicated):
    X, y, names, _, _ = duplicated
    flat = X.copy()
    flat[:, 4] = 1.0
    with pytest.raises(DataError, match="p0"):
        cluster_features(flat, names)
    with pytest.raises(ConfigError, match="not both"):
        cluster_features(X, names, n_clusters=2, distance_threshold=0.3)
    with pytest.raises(ConfigError, match="linkage_method"):
        cluster_features(X, names, linkage_method="median!")
    with pytest.raises(ConfigError, match="n_clusters"):
        cluster_features(X, names, n_clusters=50)
    with pytest.raises(ConfigError, match="silhouette"):
        cluster_features(X[:, :2], names[:2])
    clusters = cluster_features(X[:, :5], names[:5], n_clusters=2)
    with pytest.raises(DataError, match="feature_names"):
        clustered_mdi_importance(X, y, clusters)
