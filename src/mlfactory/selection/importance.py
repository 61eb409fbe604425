"""Feature importance (AFML ch. 8): MDI, MDA and SFI, scored by neg log loss on purged K-fold CV.

- **MDI** (mean decrease impurity, 8.3.1): a forest of trees that each split on one randomly drawn
  feature (``max_features=1``) so every feature gets its chance; a feature's importance is its
  impurity decrease averaged over the trees that used it, normalised to sum to 1. In-sample.
- **MDA** (mean decrease accuracy, 8.3.2): out of sample. Per purged fold, fit, score the test rows,
  then score them again with one feature's column permuted; importance is the relative loss
  ``(score - score_permuted) / -score_permuted``.
- **SFI** (single feature importance, 8.4.1): the purged-CV score of a model fitted on one feature
  alone; free of substitution effects.

Means come with standard errors (``std / sqrt(n)``) over trees (MDI) or folds (MDA, SFI).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

from mlfactory.errors import ConfigError, DataError
from mlfactory.selection._common import (
    ClassifierFactory,
    FeatureImportance,
    check_features,
    check_labels,
    check_optional_depth,
    check_positive_int,
    check_weights,
    default_classifier,
    fit_classifier,
    mean_and_se,
    neg_log_loss,
    predict_proba3,
)
from mlfactory.splits.folds import Fold
from mlfactory.splits.purged_kfold import purged_kfold

# ------------------------------------------------------------------------------------------------ MDI


def mdi_per_tree(
    X: np.ndarray,
    y: np.ndarray,
    *,
    sample_weight: np.ndarray | None = None,
    n_estimators: int = 100,
    max_depth: int | None = 5,
    max_samples: float | None = None,
    estimator: str = "random_forest",
    seed: int = 0,
    n_jobs: int = 1,
) -> np.ndarray:
    """``(n_trees, f)`` impurity importances per tree, NaN where a tree never split on the feature.

    Zero means "not drawn" under ``max_features=1``, not "useless", hence NaN (AFML snippet 8.2).
    Inputs are assumed checked.
    """
    n_estimators = check_positive_int(n_estimators, "n_estimators")
    max_depth = check_optional_depth(max_depth)
    if max_samples is not None and not 0.0 < max_samples <= 1.0:
        raise ConfigError(f"max_samples: expected a fraction in (0, 1] or None, got {max_samples!r}")
    kinds = {"random_forest": RandomForestClassifier, "extra_trees": ExtraTreesClassifier}
    if estimator not in kinds:
        raise ConfigError(f"estimator: expected one of {sorted(kinds)}, got {estimator!r}")
    forest = kinds[estimator](
        n_estimators=n_estimators,
        max_features=1,
        max_depth=max_depth,
        criterion="entropy",
        class_weight="balanced",
        bootstrap=True,
        max_samples=max_samples,
        random_state=seed,
        n_jobs=n_jobs,
    )
    forest.fit(X, y, sample_weight=sample_weight)
    per_tree = np.stack([t.feature_importances_ for t in forest.estimators_]).astype(np.float64)
    per_tree[per_tree == 0.0] = np.nan
    return per_tree


def mdi_importance(
    X: np.ndarray,
    y: np.ndarray,
    feature_names: Sequence[str],
    *,
    sample_weight: np.ndarray | None = None,
    n_estimators: int = 100,
    max_depth: int | None = 5,
    max_samples: float | None = None,
    estimator: str = "random_forest",
    seed: int = 0,
    n_jobs: int = 1,
) -> FeatureImportance:
    """MDI of each feature from a seeded ``max_features=1`` forest; means sum to 1.

    ``estimator``: ``"random_forest"`` or ``"extra_trees"``; ``max_samples``: bootstrap fraction per
    tree (AFML suggests the labels' average uniqueness).
    """
    X, names = check_features(X, feature_names)
    y = check_labels(y, X.shape[0])
    w = check_weights(sample_weight, X.shape[0])
    per_tree = mdi_per_tree(
        X, y, sample_weight=w, n_estimators=n_estimators, max_depth=max_depth,
        max_samples=max_samples, estimator=estimator, seed=seed, n_jobs=n_jobs,
    )  # fmt: skip
    used = np.isfinite(per_tree)
    counts = used.sum(axis=0)
    filled = np.where(used, per_tree, 0.0)
    mean = np.divide(filled.sum(axis=0), counts, out=np.zeros(len(names)), where=counts > 0)
    dev = np.where(used, per_tree - mean, 0.0)
    var = np.divide((dev**2).sum(axis=0), counts - 1, out=np.zeros(len(names)), where=counts > 1)
    se = np.sqrt(var) / np.sqrt(np.maximum(counts, 1))
    total = mean.sum()
    if total > 0:
        mean, se = mean / total, se / total
    return FeatureImportance("mdi", names, mean, se)


# ----------------------------------------------------------------------------------------- CV helpers


def cv_folds(ts: np.ndarray, t1: np.ndarray, n: int, n_splits: int, embargo_ns: int) -> list[Fold]:
    """Purged K-fold on the rows' label windows, checked against the number of rows of X."""
    ts = np.asarray(ts)
    if ts.shape != (n,):
        raise DataError(f"ts: expected {n} timestamps (one per row of X), got shape {ts.shape}")
    folds = purged_kfold(ts, t1, n_splits=n_splits, embargo_ns=embargo_ns)
    empty = [f.fold_id for f in folds if f.train_idx.size == 0]
    if empty:
        raise DataError(
            f"purged CV: folds {empty} have no training rows left after purge/embargo; "
            "use fewer n_splits, a smaller embargo_ns or more rows"
        )
    return folds


def _sub(w: np.ndarray | None, idx: np.ndarray) -> np.ndarray | None:
    return None if w is None else w[idx]


def grouped_mda(
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray | None,
    folds: Sequence[Fold],
    groups: Sequence[np.ndarray],
    classifier: ClassifierFactory,
    n_repeats: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """``(n_folds, n_groups)`` MDA: each group's columns permuted jointly (rows shuffled together).

    Inputs are assumed checked; returns the per-fold importances and the per-fold baseline scores.
    """
    rng = np.random.default_rng(seed)
    imp = np.zeros((len(folds), len(groups)))
    base = np.zeros(len(folds))
    for i, fold in enumerate(folds):
        clf = fit_classifier(classifier, X[fold.train_idx], y[fold.train_idx], _sub(w, fold.train_idx))
        x_test, y_test, w_test = X[fold.test_idx], y[fold.test_idx], _sub(w, fold.test_idx)
        base[i] = neg_log_loss(y_test, predict_proba3(clf, x_test), w_test)
        x_perm = x_test.copy()
        for g, cols in enumerate(groups):
            scores = np.empty(n_repeats)
            for r in range(n_repeats):
                x_perm[:, cols] = x_test[np.ix_(rng.permutation(x_test.shape[0]), cols)]
                scores[r] = neg_log_loss(y_test, predict_proba3(clf, x_perm), w_test)
            x_perm[:, cols] = x_test[:, cols]
            imp[i, g] = np.mean((base[i] - scores) / np.maximum(-scores, 1e-12))
    return imp, base


# ------------------------------------------------------------------------------------------------ MDA


def mda_importance(
    X: np.ndarray,
    y: np.ndarray,
    feature_names: Sequence[str],
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
    """MDA of each feature on purged K-fold CV (rows at decision times ``ts``, labels ending ``t1``).

    ``classifier``: a zero-argument factory of sklearn-style classifiers (default: a small seeded
    random forest, ``n_jobs`` threads). ``n_repeats`` permutations per feature and fold are averaged.
    """
    X, names = check_features(X, feature_names)
    y = check_labels(y, X.shape[0])
    w = check_weights(sample_weight, X.shape[0])
    n_repeats = check_positive_int(n_repeats, "n_repeats")
    folds = cv_folds(ts, t1, X.shape[0], n_splits, embargo_ns)
    factory = classifier or default_classifier(seed=seed, n_jobs=n_jobs)
    groups = [np.array([j]) for j in range(X.shape[1])]
    imp, _ = grouped_mda(X, y, w, folds, groups, factory, n_repeats, seed)
    mean, se = mean_and_se(imp)
    return FeatureImportance("mda", names, mean, se)


# ------------------------------------------------------------------------------------------------ SFI


def sfi_importance(
    X: np.ndarray,
    y: np.ndarray,
    feature_names: Sequence[str],
    *,
    ts: np.ndarray,
    t1: np.ndarray,
    n_splits: int = 5,
    embargo_ns: int = 0,
    sample_weight: np.ndarray | None = None,
    classifier: ClassifierFactory | None = None,
    seed: int = 0,
    n_jobs: int = 1,
) -> FeatureImportance:
    """SFI: mean purged-CV neg log loss of a classifier fitted on each feature alone (higher = better).

    Costs ``n_features x n_splits`` fits; prefer a cheap ``classifier`` on wide matrices.
    """
    X, names = check_features(X, feature_names)
    y = check_labels(y, X.shape[0])
    w = check_weights(sample_weight, X.shape[0])
    folds = cv_folds(ts, t1, X.shape[0], n_splits, embargo_ns)
    factory = classifier or default_classifier(seed=seed, n_jobs=n_jobs)
    scores = np.empty((len(folds), X.shape[1]))
    for j in range(X.shape[1]):
        col = X[:, j : j + 1]
        for i, fold in enumerate(folds):
            clf = fit_classifier(factory, col[fold.train_idx], y[fold.train_idx], _sub(w, fold.train_idx))
            p = predict_proba3(clf, col[fold.test_idx])
            scores[i, j] = neg_log_loss(y[fold.test_idx], p, _sub(w, fold.test_idx))
    mean, se = mean_and_se(scores)
    return FeatureImportance("sfi", names, mean, se)
