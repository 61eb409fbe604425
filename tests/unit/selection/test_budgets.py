"""Per-model budgets: the table and its lookup by name, then family (enforced by ``selection.step``)."""

from __future__ import annotations

import pytest

from mlfactory.errors import ConfigError
from mlfactory.models.base import Family
from mlfactory.selection import FeatureBudget, feature_budget


@pytest.mark.parametrize(
    ("model", "family", "bounds", "kinds"),
    [
        ("catboost", Family.BOOSTING, (80, 120), None),
        ("lightgbm", Family.BOOSTING, (80, 120), None),
        ("xgboost", Family.BOOSTING, (80, 120), None),
        ("lstm", Family.NEURAL, (40, 80), None),
        ("gru", Family.NEURAL, (40, 80), None),
        ("tcn", Family.NEURAL, (60, 100), None),  # by name, ahead of its family
        ("patchtst", Family.TRANSFORMER, (4, 12), ("raw",)),
        ("itransformer", Family.TRANSFORMER, (5, 10), ("raw",)),
        ("tft", Family.TRANSFORMER, (50, 100), None),
    ],
)
def test_budget_table(model, family, bounds, kinds):
    b = feature_budget(model, family)
    assert (b.min_features, b.max_features) == bounds
    assert b.kinds == kinds


def test_family_comes_from_the_registry_when_not_given():
    assert feature_budget("lightgbm") == feature_budget("any_boosting_model", "boosting")
    with pytest.raises(ConfigError, match=r"'logistic' \(family classical\) has no feature budget"):
        feature_budget("logistic")
    with pytest.raises(ConfigError, match="family"):
        feature_budget("mystery", "quantum")
    with pytest.raises(ConfigError, match="max_features"):
        FeatureBudget(10, 5)
    with pytest.raises(ConfigError, match="kinds"):
        FeatureBudget(1, 5, ("ohlcv",))
