"""Every registered model on a real (small) pipeline run: train, evaluate, save/load, route, OOF.

No mocks: synthetic bars go through ingest → ladder → features → labels → splits, and each model
is routed onto the decision clock from its own timeframe and feature set.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from mlfactory.models.base import Family
from mlfactory.models.registry import all_models
from mlfactory.run_data import RunData
from mlfactory.training.configs import resolve_config
from mlfactory.training.cross_validate import run_cv
from mlfactory.training.model_data import build_model_data
from mlfactory.training.train import train_model

BASE_MODELS = sorted(n for n, c in all_models().items() if c.family not in (Family.META, Family.ENSEMBLE))


@pytest.mark.parametrize("name", BASE_MODELS)
def test_every_registered_base_model_trains_on_a_real_run(small_run: Path, name: str, tiny_params) -> None:
    cls = all_models()[name]
    result = train_model(small_run, name, 10, params=tiny_params(cls))
    out = result.directory
    for f in (
        "metrics.json",
        "routing.json",
        "predictions_val.parquet",
        "predictions_test.parquet",
        "equity_test.parquet",
    ):
        assert (out / f).is_file(), f
    preds = pl.read_parquet(out / "predictions_test.parquet")
    p = preds.select("p_short", "p_neutral", "p_long").to_numpy()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-6)
    assert preds.height > 50
    # round trip: the saved model gives identical probabilities
    loaded = cls.load(out / "model")
    data = RunData(small_run)
    cfg = resolve_config(name, params=tiny_params(cls))
    md = build_model_data(data, cfg, data.clock(10))
    routing = json.loads((out / "routing.json").read_text())
    cols = np.array([md.feature_names.index(f) for f in routing["features"]])
    idx = md.rows("test")
    np.testing.assert_array_equal(loaded.predict_proba(md.dataset.x.select_columns(cols).subset(idx)), p)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["classification"]["test"]["model"]["log_loss"] > 0
    assert "sharpe" in metrics["trading"]["test"]["strategy"]


def test_models_with_different_routing_receive_different_matrices(small_run: Path) -> None:
    data = RunData(small_run)
    a = build_model_data(data, resolve_config("lightgbm"), data.clock(10))  # 15m + MTF indicators
    b = build_model_data(data, resolve_config("logistic"), data.clock(10))  # 1h single-TF
    c = build_model_data(
        data, resolve_config("lightgbm", timeframe="5m", feature_set="engineered"), data.clock(10)
    )
    assert a.feature_names != b.feature_names != c.feature_names
    assert any("__" in n for n in a.feature_names) and not any("__" in n for n in b.feature_names)
    assert a.dataset.x.x.shape[1] != b.dataset.x.x.shape[1]
    common = np.intersect1d(a.timestamps, c.timestamps)
    ia, ic = np.searchsorted(a.timestamps, common), np.searchsorted(c.timestamps, common)
    shared = [n for n in a.feature_names if n in c.feature_names][:5]
    ja, jc = [a.feature_names.index(n) for n in shared], [c.feature_names.index(n) for n in shared]
    assert not np.array_equal(a.dataset.x.x[ia][:, ja], c.dataset.x.x[ic][:, jc]), (
        "15m and 5m features are identical"
    )


def test_a_coarser_base_only_sees_bars_closed_by_the_decision_time(small_run: Path) -> None:
    data = RunData(small_run)
    md = build_model_data(data, resolve_config("lightgbm"), data.clock(10))
    frame = data.features("15m")
    f_ts = frame["timestamp"].dt.epoch("ns").to_numpy()
    col = md.feature_names.index("rsi_14")
    src = frame["rsi_14"].to_numpy()
    for i in np.linspace(0, len(md.timestamps) - 1, 200).astype(int):
        t = md.timestamps[i]
        row = np.searchsorted(f_ts, t, side="right") - 1  # latest 15m bar closed at or before t
        assert f_ts[row] <= t
        assert md.dataset.x.x[i, col] == pytest.approx(src[row])
        if row + 1 < len(f_ts) and f_ts[row + 1] > t:
            assert md.dataset.x.x[i, col] != pytest.approx(src[row + 1]) or src[row + 1] == src[row]


def test_sequence_windows_end_at_or_before_the_decision_time(small_run: Path) -> None:
    data = RunData(small_run)
    cfg = resolve_config("tcn", params=["seq_len=8"])
    md = build_model_data(data, cfg, data.clock(10))
    view = md.dataset.x
    assert view.ndim == 3
    row_ts = data.features("5m")["timestamp"].dt.epoch("ns").to_numpy()
    assert (row_ts[view.ends] <= view.timestamps).all()
    assert md.coverage["built"] < md.coverage["decisions"], "warm-up rows should be reported as not built"


def test_cv_gives_every_model_the_same_folds_and_oof_timestamps(small_run: Path) -> None:
    summary = run_cv(
        small_run, ["svm", "random_forest"], 10, n_splits=3, params=["n_estimators=10", "n_components=32"]
    )
    frames = {
        m: pl.read_parquet(small_run / "models" / f"{m}_h10" / "oof.parquet")
        for m in ("svm", "random_forest")
    }
    common = frames["svm"].join(frames["random_forest"], on="timestamp", how="inner", suffix="_b")
    assert common.height > 100
    assert (common["fold"] == common["fold_b"]).all(), "the same timestamp got different folds for two models"
    for m, s in summary["models"].items():
        assert 0 < s["coverage"] <= 1 and s["folds"] == 3, m


def test_feature_budgets_are_enforced_per_family(small_run: Path, tiny_params) -> None:
    """Boosting gets 80-120 features (from ~250 candidates), a TCN 60-100, chosen on training rows."""
    for name, (lo, hi) in {"lightgbm": (80, 120), "tcn": (60, 100)}.items():
        cls = all_models()[name]
        out = train_model(small_run, name, 10, params=tiny_params(cls)).directory
        routing = json.loads((out / "routing.json").read_text())
        assert lo <= routing["n_features"] <= hi, (name, routing["n_features"])
        assert routing["coverage"]["selection"]["candidates"] > hi


def test_feature_selection_is_cached_per_model_timeframe_and_horizon(small_run: Path, tiny_params) -> None:
    cls = all_models()["xgboost"]
    train_model(small_run, "xgboost", 10, params=tiny_params(cls))
    cache = small_run / "selection" / "xgboost_15m_h10.json"
    stored = json.loads(cache.read_text())
    assert 80 <= len(stored["selected"]) <= 120
    stored["selected"] = stored["selected"][:85]  # a different (valid) choice under the same key is reused
    cache.write_text(json.dumps(stored))
    again = train_model(small_run, "xgboost", 10, params=tiny_params(cls))
    assert json.loads((again.directory / "routing.json").read_text())["n_features"] == 85


def test_every_tuning_trial_is_counted_in_the_runs_trial_registry(small_run, tmp_path):
    from run_copies import copy_dataset

    from mlfactory.evaluation.trials import read_trials

    run = copy_dataset(small_run, tmp_path / "run")
    summary = run_cv(run, ["random_forest"], 10, n_splits=3, tune=2, params=["n_estimators=10"])
    assert summary["models"]["random_forest"]["tuned"]["trials"] == 2
    trials = read_trials(run)
    tuned = {i: t for i, t in trials.items() if t.kind == "tuning"}
    assert set(tuned) == {"models/random_forest_h10/trial-0", "models/random_forest_h10/trial-1"}
    assert all(t.n_obs > 100 and t.split == "oof" for t in tuned.values())
