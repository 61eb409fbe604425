"""Feature selection: MDI / MDA / SFI (AFML ch. 8), clustered importance (MLAM ch. 6),
walk-forward selection on training folds only, per-model budgets and a per-run cache."""

from mlfactory.selection._common import ClassifierFactory, FeatureImportance, default_classifier
from mlfactory.selection.budgets import (
    FAMILY_BUDGETS,
    MODEL_BUDGETS,
    FeatureBudget,
    budget_target,
    eligible_features,
    feature_budget,
)
from mlfactory.selection.cache import SelectionCache, selection_key
from mlfactory.selection.clustering import (
    FeatureClusters,
    cluster_features,
    clustered_mda_importance,
    clustered_mdi_importance,
    correlation_distance,
)
from mlfactory.selection.importance import mda_importance, mdi_importance, sfi_importance
from mlfactory.selection.policy import select_features_for_model
from mlfactory.selection.walk_forward import SelectionParams, SelectionResult, walk_forward_selection

__all__ = [
    "FAMILY_BUDGETS",
    "MODEL_BUDGETS",
    "ClassifierFactory",
    "FeatureBudget",
    "FeatureClusters",
    "FeatureImportance",
    "SelectionCache",
    "SelectionParams",
    "SelectionResult",
    "budget_target",
    "cluster_features",
    "clustered_mda_importance",
    "clustered_mdi_importance",
    "correlation_distance",
    "default_classifier",
    "eligible_features",
    "feature_budget",
    "mda_importance",
    "mdi_importance",
    "select_features_for_model",
    "selection_key",
    "sfi_importance",
    "walk_forward_selection",
]
