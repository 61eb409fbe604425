"""Feature importance of a trained model, for the report: MDI for trees, permutation MDA on the
validation split for every model, and both clustered by correlation.

- **MDI** (trees only): the fitted model's own impurity/gain importance — sklearn forests'
  ``feature_importances_``, LightGBM/XGBoost gain, CatBoost's prediction-value change — normalised
  to sum to 1. In-sample, so it says what the model used, not what generalises.
- **MDA** (every model with a tabular or windowed input): on the validation rows, the increase in
  log loss when a feature's column is shuffled across rows (the fitted model is not refitted),
  averaged over ``n_repeats`` seeded permutations, with its standard error.
- **Clustered** (López de Prado, MLAM ch. 6, via ``selection.clustering``): features clustered on
  the correlation distance of the validation rows (cut with the best silhouette); clustered MDA
  shuffles a cluster's columns jointly, clustered MDI sums its members' MDI. Correlated features
  no longer hide each other.

``write_importance`` stores the result as ``importance.json`` beside ``metrics.json``; the report
reads it from there.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import log_loss

from mlfactory.errors import ConfigError
from mlfactory.selection.clustering import cluster_features

IMPORTANCE_FILE = "importance.json"
CLASSES = [-1, 0, 1]


def tree_mdi(model: Any, n_features: int) -> np.ndarray | None:
    """The model's own normalised impurity/gain importance per column, or None for a non-tree model."""
    raw = _native_importance(model, n_features)
    if raw is None:
        return None
    raw = np.asarray(raw, dtype=np.float64)
    total = raw.sum()
    return raw / total if total > 0 else raw


def _native_importance(model: Any, n_features: int) -> np.ndarray | None:
    estimator = getattr(model, "estimator_", None)
    if hasattr(estimator, "feature_importances_"):  # sklearn forests, CatBoost
        return estimator.feature_importances_
    booster = getattr(model, "booster_", None)
    if hasattr(booster, "feature_importance"):  # LightGBM
        return booster.feature_importance(importance_type="gain")
    if hasattr(booster, "get_score"):  # XGBoost: keyed f0, f1, ... (or the training names)
        score = booster.get_score(importance_type="gain")
        names = booster.feature_names or [f"f{j}" for j in range(n_features)]
        return np.array([score.get(n, 0.0) for n in names])
    return None


def feature_matrix(x: Any) -> np.ndarray:
    """The 2-D (rows, features) array a view permutes: ``x`` of a tabular view, ``values`` of a window view."""
    if hasattr(x, "x") and getattr(x, "ndim", None) == 2:
        return x.x
    if hasattr(x, "values") and hasattr(x, "ends"):
        return x.values
    raise ConfigError(f"{type(x).__name__}: permutation importance supports tabular and windowed inputs")


def permuted(x: Any, cols: np.ndarray, rng: np.random.Generator) -> Any:
    """A copy of view ``x`` with the columns ``cols`` shuffled jointly across rows. For a window view
    only the rows its windows read are shuffled among themselves (warm-up rows outside every window
    hold NaN and must not be moved into one)."""
    m = feature_matrix(x)
    out = m.copy()
    if getattr(x, "ndim", None) == 2:
        out[:, cols] = m[np.ix_(rng.permutation(m.shape[0]), cols)]
        return replace(x, x=out)
    rows = np.unique((np.asarray(x.ends)[:, None] - np.arange(int(x.seq_len))[None, :]).ravel())
    out[np.ix_(rows, cols)] = m[np.ix_(rng.permutation(rows), cols)]
    return replace(x, values=out)


def permutation_mda(
    model: Any, x: Any, y: np.ndarray, groups: list[np.ndarray], *, n_repeats: int = 2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error of the log-loss increase when each group of columns is shuffled."""
    rng = np.random.default_rng(seed)
    base = log_loss(y, model.predict_proba(x), labels=CLASSES)
    inc = np.array(
        [
            [
                log_loss(y, model.predict_proba(permuted(x, cols, rng)), labels=CLASSES) - base
                for _ in range(n_repeats)
            ]
            for cols in groups
        ]
    )
    se = inc.std(axis=1, ddof=1) / np.sqrt(n_repeats) if n_repeats > 1 else np.zeros(len(groups))
    return inc.mean(axis=1), se


def model_feature_importance(
    model: Any, x: Any, y: np.ndarray, feature_names: list[str], *, n_repeats: int = 2, seed: int = 0
) -> dict[str, Any]:
    """MDI (trees), MDA on ``(x, y)`` (the validation split) and their clustered versions, as JSON-ready dicts."""
    names = list(feature_names)
    if getattr(x, "ndim", 2) not in (2, 3):
        return {
            "split": "val",
            "mdi": None,
            "mda": None,
            "reason": f"{x.ndim}D multi-stream input: not supported",
        }
    single = [np.array([j]) for j in range(len(names))]
    mda, mda_se = permutation_mda(model, x, y, single, n_repeats=n_repeats, seed=seed)
    mdi = tree_mdi(model, len(names))
    out: dict[str, Any] = {
        "split": "val",
        "mda_metric": "log-loss increase when shuffled",
        "mdi": None if mdi is None else dict(zip(names, mdi.tolist(), strict=True)),
        "mda": {n: {"mean": float(m), "se": float(s)} for n, m, s in zip(names, mda, mda_se, strict=True)},
    }
    groups = correlation_clusters(feature_matrix(x), names)
    if groups is not None:
        members = [[names[j] for j in g] for g in groups]
        c_mda, c_se = permutation_mda(model, x, y, groups, n_repeats=n_repeats, seed=seed + 1)
        labels = [" + ".join(m) if len(m) <= 3 else f"{m[0]} + {len(m) - 1} more" for m in members]
        out["clusters"] = dict(zip(labels, members, strict=True))
        out["clustered_mda"] = {
            lab: {"mean": float(a), "se": float(b)} for lab, a, b in zip(labels, c_mda, c_se, strict=True)
        }
        if mdi is not None:
            out["clustered_mdi"] = {lab: float(mdi[g].sum()) for lab, g in zip(labels, groups, strict=True)}
    return out


def correlation_clusters(matrix: np.ndarray, names: list[str]) -> list[np.ndarray] | None:
    """Column groups: correlation clusters (best silhouette) of the varying columns, each constant
    column alone; None when fewer than 3 columns vary (no silhouette to choose a cut)."""
    m = np.asarray(matrix, dtype=np.float64)
    varying = np.flatnonzero(m.std(axis=0) > 0)
    if varying.size < 3:
        return None
    clusters = cluster_features(m[:, varying], [names[j] for j in varying])
    constant = np.setdiff1d(np.arange(m.shape[1]), varying)
    return [varying[g] for g in clusters.column_groups()] + [np.array([j]) for j in constant]


def write_importance(directory: Path, importance: dict[str, Any]) -> Path:
    """``importance.json`` beside the model's ``metrics.json`` (strict JSON, written atomically)."""
    from mlfactory.jsonio import write_json

    return write_json(Path(directory) / IMPORTANCE_FILE, importance)
