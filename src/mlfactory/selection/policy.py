"""The per-model feature policy: budget, eligible kinds, walk-forward selection, cache.

``select_features_for_model`` is what training calls for each model of a run: candidates of the
right kind, checked against the model's budget (too few is an error), cut to the budget's maximum
by walk-forward importance when there are too many, cached per (model, timeframe, horizon).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from mlfactory.errors import ConfigError, DataError
from mlfactory.models.base import Family
from mlfactory.selection._common import ClassifierFactory, check_features, check_labels, check_weights
from mlfactory.selection.budgets import FeatureBudget, budget_target, eligible_features, feature_budget
from mlfactory.selection.cache import SelectionCache, selection_key
from mlfactory.selection.walk_forward import (
    SelectionParams,
    SelectionResult,
    check_folds,
    walk_forward_selection,
)
from mlfactory.splits.folds import Fold, check_windows


def _classifier_tag(classifier: ClassifierFactory | None) -> Any:
    """A hashable description of the classifier (its type and sklearn parameters)."""
    if classifier is None:
        return "default"
    clf = classifier()
    if not hasattr(clf, "get_params"):
        raise ConfigError(
            "classifier: a cached selection needs a classifier with sklearn's get_params() to key the "
            "cache; use an sklearn estimator or pass cache_dir=None"
        )
    return {"type": f"{type(clf).__module__}.{type(clf).__qualname__}", "params": clf.get_params(deep=True)}


def select_features_for_model(
    model: str,
    X: np.ndarray,
    y: np.ndarray,
    feature_names: Sequence[str],
    *,
    ts: np.ndarray,
    t1: np.ndarray,
    folds: Sequence[Fold],
    family: Family | str | None = None,
    kinds: Mapping[str, Any] | None = None,
    budget: FeatureBudget | None = None,
    enforce: bool = True,
    params: SelectionParams | None = None,
    sample_weight: np.ndarray | None = None,
    classifier: ClassifierFactory | None = None,
    n_jobs: int = 1,
    cache_dir: Path | str | None = None,
    timeframe: str | None = None,
    horizon: int | None = None,
) -> SelectionResult:
    """The features ``model`` trains on, per fold and overall, within its budget.

    ``budget`` overrides the table (``feature_budget``); ``enforce=False`` keeps every candidate.
    ``kinds`` maps names to ``"raw"``/``"engineered"`` (or ``FeatureSpec``s), needed for budgets
    restricted to a kind. With ``cache_dir`` (e.g. ``RUN/selection``), ``timeframe`` and
    ``horizon`` are required and the result is reused while its inputs are unchanged.
    """
    params = params or SelectionParams()
    X, names = check_features(X, feature_names)
    y = check_labels(y, X.shape[0])
    sample_weight = check_weights(sample_weight, X.shape[0])
    ts, t1 = check_windows(ts, t1)
    if ts.size != X.shape[0]:
        raise DataError(f"ts: expected {X.shape[0]} timestamps (one per row of X), got {ts.size}")
    folds = check_folds(folds, X.shape[0])
    if not enforce:
        budget, chosen, k = None, names, len(names)
    else:
        budget = budget if budget is not None else feature_budget(model, family)
        chosen = eligible_features(model, budget, names, kinds)
        k = budget_target(model, budget, len(chosen))
    position = {n: j for j, n in enumerate(names)}
    cols = np.array([position[n] for n in chosen], dtype=np.int64)
    record = {
        "model": model,
        "budget": None if budget is None else budget.as_dict(),
        **params.as_dict(),
        "k": k,
    }

    def compute() -> SelectionResult:
        if k == len(chosen):  # within budget: nothing to cut
            return SelectionResult(
                candidates=chosen,
                selected=chosen,
                fold_ids=tuple(f.fold_id for f in folds),
                fold_selected=tuple(chosen for _ in folds),
                params={**record, "method": "all_within_budget"},
            )
        result = walk_forward_selection(
            X[:, cols], y, chosen, ts=ts, t1=t1, folds=folds, k=k, params=params,
            sample_weight=sample_weight, classifier=classifier, n_jobs=n_jobs,
        )  # fmt: skip
        return replace(result, params={**result.params, **record})

    if cache_dir is None:
        return compute()
    if timeframe is None or horizon is None:
        raise ConfigError("timeframe and horizon: both are required to cache a selection (cache_dir is set)")
    train = np.unique(np.concatenate([f.train_idx for f in folds]))
    w = None if sample_weight is None else sample_weight[train]
    key = selection_key(
        feature_names=chosen,
        train_timestamps=[ts[f.train_idx] for f in folds],
        params={**record, "classifier": _classifier_tag(classifier), "fold_ids": [f.fold_id for f in folds]},
        arrays=(X[np.ix_(train, cols)], y[train], w, t1[train]),
    )
    result, _ = SelectionCache(cache_dir).get_or_compute(model, timeframe, horizon, key, compute)
    return result
