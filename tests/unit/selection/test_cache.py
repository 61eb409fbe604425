"""The selection cache: identical inputs return the stored result; changed training timestamps recompute."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mlfactory.errors import ArtifactError, ConfigError
from mlfactory.selection import (
    FeatureBudget,
    SelectionCache,
    SelectionParams,
    SelectionResult,
    select_features_for_model,
    selection_key,
)
from mlfactory.splits import walk_forward

MIN = 60_000_000_000
PARAMS = SelectionParams(method="mdi", n_estimators=30, seed=0)


def _result(tag: str) -> SelectionResult:
    return SelectionResult(("a", "b"), ("a",), (0,), (("a",),), (1.0, 2.0), (), {"tag": tag})


def test_get_or_compute_hits_on_identical_key(tmp_path):
    cache = SelectionCache(tmp_path / "selection")
    ts = np.arange(5, dtype=np.int64) * MIN
    key = selection_key(feature_names=["a", "b"], train_timestamps=[ts], params={"k": 1})
    calls = []

    def compute():
        calls.append(1)
        return _result(f"run{len(calls)}")

    first, hit1 = cache.get_or_compute("catboost", "15m", 20, key, compute)
    second, hit2 = cache.get_or_compute("catboost", "15m", 20, key, compute)
    assert (hit1, hit2) == (False, True) and len(calls) == 1
    assert second == first
    assert (tmp_path / "selection" / "catboost_15m_h20.json").is_file()

    moved = selection_key(feature_names=["a", "b"], train_timestamps=[ts + MIN], params={"k": 1})
    third, hit3 = cache.get_or_compute("catboost", "15m", 20, moved, compute)
    assert not hit3 and third.params["tag"] == "run2"
    assert cache.load("catboost", "15m", 20, key) is None  # replaced by the fresh result


def test_key_covers_every_input():
    ts = np.arange(5, dtype=np.int64) * MIN
    x = np.ones((5, 2), dtype=np.float32)
    base = {"feature_names": ["a", "b"], "train_timestamps": [ts], "params": {"k": 1}, "arrays": (x, None)}
    k0 = selection_key(**base)
    assert selection_key(**base) == k0
    changed = [
        {"feature_names": ["b", "a"]},
        {"train_timestamps": [ts[:-1]]},
        {"train_timestamps": [ts[:2], ts[2:]]},  # same rows, other folds
        {"params": {"k": 2}},
        {"arrays": (x * 2, None)},
        {"arrays": (x.astype(np.float64), None)},
    ]
    keys = {selection_key(**(base | c)) for c in changed}
    assert k0 not in keys and len(keys) == len(changed)


def test_bad_cache_file_and_names(tmp_path):
    cache = SelectionCache(tmp_path)
    path = cache.path("tcn", "5m", 10)
    path.write_text("{not json")
    with pytest.raises(ArtifactError, match="delete the file"):
        cache.load("tcn", "5m", 10, "k")
    path.write_text(json.dumps({"key": "k", "result": {"selected": []}}))
    with pytest.raises(ArtifactError, match="malformed"):
        cache.load("tcn", "5m", 10, "k")
    with pytest.raises(ConfigError, match="model"):
        cache.path("../evil", "5m", 10)
    with pytest.raises(ConfigError, match="timeframe"):
        cache.path("tcn", "7m", 10)
    with pytest.raises(ConfigError, match="horizon"):
        cache.path("tcn", "5m", 0)


def _data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 12)).astype(np.float32)
    s = X[:, 0] + X[:, 1] + 0.3 * rng.standard_normal(n)
    y = np.where(s > 0.5, 1, np.where(s < -0.5, -1, 0)).astype(np.int8)
    ts = 28_000_000 * MIN + np.arange(n, dtype=np.int64) * 5 * MIN
    return X, y, [f"f{j}" for j in range(12)], ts, ts + 15 * MIN


def test_model_selection_reuses_the_run_cache(tmp_path):
    X, y, names, ts, t1 = _data()
    folds = walk_forward(ts, t1, n_splits=2, mode="expanding", embargo_ns=0)
    kw = {
        "budget": FeatureBudget(2, 5),
        "params": PARAMS,
        "cache_dir": tmp_path,
        "timeframe": "5m",
        "horizon": 20,
    }
    first = select_features_for_model("lstm", X, y, names, ts=ts, t1=t1, folds=folds, **kw)
    path = tmp_path / "lstm_5m_h20.json"
    record = json.loads(path.read_text())
    record["result"]["params"]["marker"] = "from-cache"  # proves the next answer is read, not recomputed
    path.write_text(json.dumps(record))

    again = select_features_for_model("lstm", X, y, names, ts=ts, t1=t1, folds=folds, **kw)
    assert again.params["marker"] == "from-cache"
    assert again.selected == first.selected

    shifted_ts, shifted_t1 = ts + MIN, t1 + MIN  # same rows, new training timestamps
    fresh = select_features_for_model("lstm", X, y, names, ts=shifted_ts, t1=shifted_t1, folds=folds, **kw)
    assert "marker" not in fresh.params
    assert fresh.selected == first.selected  # the same data gives the same answer

    # Rows outside the training folds do not enter the key either.
    X2 = X.copy()
    X2[folds[-1].test_idx] = 0.0
    outside = select_features_for_model("lstm", X2, y, names, ts=shifted_ts, t1=shifted_t1, folds=folds, **kw)
    assert outside == fresh

    with pytest.raises(ConfigError, match="timeframe and horizon"):
        select_features_for_model("lstm", X, y, names, ts=ts, t1=t1, folds=folds, **(kw | {"horizon": None}))
