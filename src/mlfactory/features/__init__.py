"""Causal features per timeframe: registry with metadata, feature groups, MTF joins.

Public entry points: ``compute_features`` (one timeframe → float32 frame + fitted state),
``feature_specs`` (the registry listing), ``mtf_indicator_features`` (coarser-timeframe columns).
"""

from mlfactory.features.compute import compute_features
from mlfactory.features.mtf import DEFAULT_MTF_FEATURES, mtf_indicator_features
from mlfactory.features.registry import feature_defs, feature_groups, feature_specs, max_warmup
from mlfactory.features.spec import FeatureSpec

__all__ = [
    "DEFAULT_MTF_FEATURES",
    "FeatureSpec",
    "compute_features",
    "feature_defs",
    "feature_groups",
    "feature_specs",
    "max_warmup",
    "mtf_indicator_features",
]
