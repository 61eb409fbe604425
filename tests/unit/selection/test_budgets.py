"""Per-model budgets: the table, kind filtering, too few is an error, too many are cut by importance."""

from __future__ import annotations

import numpy as np
import pytest

from mlfactory.errors import ConfigError, DataError
from mlfactory.features.spec import FeatureSpec
from mlfactory.models.base import Family
from mlfactory.selection import (
    FeatureBudget,
    SelectionParams,
    feature_budget,
    select_features_for_model,
)
from mlfactory.splits import walk_forward

MIN = 60_000_000_000
FAST = SelectionParams(method="mdi", n_estimators=30, max_depth=4, seed=0)
WIDE = SelectionParams(method="mdi", n_estimators=100, max_depth=5, seed=0)  # 200 columns need more trees


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


def _wide(n_rows: int, n_informative: int, n_noise: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    f = n_informative + n_noise
    X = rng.standard_normal((n_rows, f)).astype(np.float32)
    score = X[:, :n_informative].sum(axis=1) / np.sqrt(n_informative) + 0.3 * rng.standard_normal(n_rows)
    y = np.where(score > 0.5, 1, np.where(score < -0.5, -1, 0)).astype(np.int8)
    ts = 28_000_000 * MIN + np.arange(n_rows, dtype=np.int64) * 5 * MIN
    t1 = ts + 15 * MIN
    folds = walk_forward(ts, t1, n_splits=2, mode="expanding", embargo_ns=0)
    return X, y, ts, t1, folds


def test_boosting_gets_80_to_120_features():
    X, y, ts, t1, folds = _wide(1200, 3, 197)
    names = [f"f{j:03d}" for j in range(X.shape[1])]
    res = select_features_for_model(
        "catboost", X, y, names, ts=ts, t1=t1, folds=folds, family=Family.BOOSTING, params=WIDE
    )
    assert 80 <= len(res.selected) <= 120
    assert len(res.selected) == 120  # cut to the maximum
    assert all(80 <= len(s) <= 120 for s in res.fold_selected)
    assert set(names[:3]) <= set(res.selected)
    assert res.params["budget"]["max_features"] == 120 and res.params["model"] == "catboost"

    within = select_features_for_model(
        "catboost", X[:, :100], y, names[:100], ts=ts, t1=t1, folds=folds, family="boosting", params=FAST
    )
    assert within.selected == tuple(names[:100])
    assert within.params["method"] == "all_within_budget"


def test_patchtst_gets_4_to_12_raw_features():
    X, y, ts, t1, folds = _wide(500, 3, 37)
    names = [f"f{j:02d}" for j in range(X.shape[1])]
    raw = set(names[:3] + names[20:37])  # 20 raw candidates, the informative ones among them
    kinds = {n: ("raw" if n in raw else "engineered") for n in names}
    res = select_features_for_model(
        "patchtst", X, y, names, ts=ts, t1=t1, folds=folds, kinds=kinds, params=FAST
    )
    assert 4 <= len(res.selected) <= 12
    assert set(res.selected) <= raw
    assert set(names[:3]) <= set(res.selected)
    assert set(res.candidates) == raw

    specs = {n: FeatureSpec(n, "g", kinds[n], "1m", 0, "d") for n in names}  # registry specs work too
    again = select_features_for_model(
        "patchtst", X, y, names, ts=ts, t1=t1, folds=folds, kinds=specs, params=FAST
    )
    assert again.selected == res.selected

    with pytest.raises(ConfigError, match="kinds"):
        select_features_for_model("patchtst", X, y, names, ts=ts, t1=t1, folds=folds, params=FAST)


def test_too_few_candidates_is_an_error_naming_model_and_budget():
    X, y, ts, t1, folds = _wide(300, 3, 47)
    names = [f"f{j}" for j in range(X.shape[1])]
    with pytest.raises(ConfigError, match=r"model 'xgboost': only 50 .* budget is 80-120"):
        select_features_for_model("xgboost", X, y, names, ts=ts, t1=t1, folds=folds, family="boosting")
    kinds = dict.fromkeys(names, "engineered") | {"f1": "raw", "f2": "raw"}
    with pytest.raises(ConfigError, match=r"model 'itransformer': only 2 .* budget is 5-10"):
        select_features_for_model("itransformer", X, y, names, ts=ts, t1=t1, folds=folds, kinds=kinds)
    kept = select_features_for_model("xgboost", X, y, names, ts=ts, t1=t1, folds=folds, enforce=False)
    assert kept.selected == tuple(names)
    custom = select_features_for_model(
        "logistic", X, y, names, ts=ts, t1=t1, folds=folds, budget=FeatureBudget(5, 10), params=FAST
    )
    assert len(custom.selected) == 10


def test_policy_checks_its_arrays():
    X, y, ts, t1, folds = _wide(300, 3, 7)
    names = [f"f{j}" for j in range(10)]
    with pytest.raises(DataError, match="ts"):
        select_features_for_model("lstm", X, y, names, ts=ts[:-1], t1=t1[:-1], folds=folds, enforce=False)
    with pytest.raises(DataError, match="labels"):
        select_features_for_model("lstm", X, y + 3, names, ts=ts, t1=t1, folds=folds, enforce=False)
