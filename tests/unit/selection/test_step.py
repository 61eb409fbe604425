"""The feature-budget step: within budget keeps all, above it keeps the most important, chosen on train rows only."""

from __future__ import annotations

import numpy as np
import pytest

from mlfactory.adapters.views import TabularView, WindowView
from mlfactory.errors import ConfigError
from mlfactory.models.base import Dataset, Family
from mlfactory.selection.step import FeatureSelector


def _data(n: int = 1500, f: int = 150, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, f)).astype(np.float32)
    score = x[:, 7] + x[:, 42] + 0.3 * rng.normal(size=n)
    y = np.where(score > 0.5, 1, np.where(score < -0.5, -1, 0)).astype(np.int8)
    ts = np.arange(n, dtype=np.int64) * 300_000_000_000
    return Dataset(TabularView(x, ts, tuple(f"f{i}" for i in range(f))), y)


def test_budgets_come_from_the_model_and_family() -> None:
    boosting = FeatureSelector.for_model("catboost", Family.BOOSTING)
    assert (boosting.min_features, boosting.max_features) == (80, 120)
    tcn = FeatureSelector.for_model("tcn", Family.CNN)
    assert (tcn.min_features, tcn.max_features) == (60, 100)
    assert FeatureSelector.for_model("svm", Family.CLASSICAL) is None  # no budget defined: no selection


def test_above_budget_keeps_the_informative_features() -> None:
    ds = _data()
    cols = FeatureSelector("catboost", 80, 120, seed=1, n_estimators=60).select(ds)
    assert len(cols) == 120 and np.all(np.diff(cols) > 0)
    assert {7, 42} <= set(cols.tolist())
    narrowed = ds.select_columns(cols)
    assert narrowed.x.x.shape == (len(ds), 120) and narrowed.x.feature_names[0] == f"f{cols[0]}"


def test_within_budget_keeps_everything_and_too_few_is_an_error() -> None:
    ds = _data(f=90)
    np.testing.assert_array_equal(FeatureSelector("catboost", 80, 120).select(ds), np.arange(90))
    with pytest.raises(ConfigError, match="below its budget"):
        FeatureSelector("catboost", 80, 120).select(_data(f=50))


def test_choice_depends_only_on_the_rows_it_is_given() -> None:
    ds = _data()
    train = np.arange(1000)
    sel = FeatureSelector("catboost", 80, 120, seed=3, n_estimators=60)
    before = sel.select(ds.subset(train))
    rng = np.random.default_rng(9)
    y = ds.y.copy()
    y[1000:] = rng.integers(-1, 2, 500)
    x = ds.x.x.copy()
    x[1000:] = rng.normal(size=(500, x.shape[1]))
    scrambled = Dataset(TabularView(x, ds.x.timestamps, ds.x.feature_names), y)
    np.testing.assert_array_equal(sel.select(scrambled.subset(train)), before)


def test_window_views_are_ranked_on_each_window_last_step() -> None:
    ds = _data(n=800, f=110)
    ends = np.arange(7, 800)
    win = WindowView(ds.x.x, ends, 8, ds.x.timestamps[ends], ds.x.feature_names)
    cols = FeatureSelector("tcn", 60, 100, n_estimators=60).select(Dataset(win, ds.y[ends]))
    assert len(cols) == 100 and {7, 42} <= set(cols.tolist())
    assert win.select_columns(cols).take(np.array([0])).shape == (1, 8, 100)
