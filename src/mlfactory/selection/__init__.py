"""Feature selection: MDI / MDA / SFI (AFML ch. 8), clustered importance (MLAM ch. 6), and the
per-model budgets that ``step.FeatureSelector`` enforces inside every fit (training rows only)."""

from mlfactory.selection._common import ClassifierFactory, FeatureImportance, default_classifier
from mlfactory.selection.budgets import (
    FAMILY_BUDGETS,
    MODEL_BUDGETS,
    FeatureBudget,
    feature_budget,
)
from mlfactory.selection.clustering import (
    FeatureClusters,
    cluster_features,
    clustered_mda_importance,
    clustered_mdi_importance,
    correlation_distance,
)
from mlfactory.selection.importance import mda_importance, mdi_importance, sfi_importance

__all__ = [
    "FAMILY_BUDGETS",
    "MODEL_BUDGETS",
    "ClassifierFactory",
    "FeatureBudget",
    "FeatureClusters",
    "FeatureImportance",
    "cluster_features",
    "clustered_mda_importance",
    "clustered_mdi_importance",
    "correlation_distance",
    "default_classifier",
    "feature_budget",
    "mda_importance",
    "mdi_importance",
    "sfi_importance",
]
