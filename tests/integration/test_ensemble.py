"""Heterogeneous stacking on one decision clock — invariants 2 and 4 of DESIGN.md, on real parts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import log_loss

from mlfactory.adapters.stacking import stack_predictions
from mlfactory.adapters.views import TabularView, WindowView
from mlfactory.models.base import CLASSES, PROBA_COLUMNS, Dataset
from mlfactory.models.registry import get_model_class
from mlfactory.runtime.executor import InProcessExecutor
from mlfactory.serving.bundle import GUARD_CANDIDATES, load_bundle
from mlfactory.serving.inference import predict_bars, predict_bundle
from mlfactory.splits import purged_kfold
from mlfactory.training.cv_plan import CVPlan
from mlfactory.training.ensemble import EnsembleSpec, train_ensemble
from mlfactory.training.oof import generate_oof

NEURAL = ("epochs=1", "seq_len=8", "batch_size=128", "patience=1", "progress=false")


@pytest.fixture(scope="module")
def stacked(small_run: Path) -> dict:
    """A stacking ensemble with a sequence base (tcn, 3D windows) and a tabular base, logistic meta-learner."""
    spec = EnsembleSpec(
        bases=("random_forest", "tcn"),
        meta_learner="logistic",
        horizon=10,
        params=("random_forest.n_estimators=20", *(f"tcn.{p}" for p in NEURAL), "logistic.C=1.0"),
        n_splits=3,
        guard=False,
    )
    result = train_ensemble(small_run, spec)
    return result.metrics.model_dump() | {"directory": str(result.directory)}


def test_stacking_with_a_sequence_base_and_a_tabular_meta_learner_trains(stacked: dict) -> None:
    """Regression: the old system validated the meta-learner's 2D input as if it were a sequence model."""
    out = Path(stacked["directory"])
    stack = pl.read_parquet(out / "oof_stack.parquet")
    cols = [c for c in stack.columns if c not in ("timestamp", "label")]
    assert {"random_forest__p_long", "tcn__p_long"} <= set(cols)
    assert stack.height > 100
    assert stacked["guard"]["kept"] == "meta"
    preds = pl.read_parquet(out / "predictions_test.parquet")
    np.testing.assert_allclose(preds.select(PROBA_COLUMNS).to_numpy().sum(axis=1), 1.0, atol=1e-6)
    assert set(stacked["oof_correlation"]["names"]) == {"random_forest", "tcn"}


def test_every_base_oof_shares_timestamps_and_fold_ids(stacked: dict) -> None:
    out = Path(stacked["directory"])
    a = pl.read_parquet(out / "bases" / "random_forest" / "oof.parquet")
    b = pl.read_parquet(out / "bases" / "tcn" / "oof.parquet")
    common = a.join(b, on="timestamp", how="inner", suffix="_b")
    assert common.height > 100
    assert (common["fold"] == common["fold_b"]).all()
    stack = pl.read_parquet(out / "oof_stack.parquet")
    # drop policy: the stack holds exactly the rows both bases predicted
    assert stack.height == common.height
    routing = {
        n: json.loads((out / "bases" / n / "routing.json").read_text()) for n in ("random_forest", "tcn")
    }
    assert routing["random_forest"]["timeframe"] == "15m" and routing["tcn"]["timeframe"] == "5m"
    assert routing["random_forest"]["features"] != routing["tcn"]["features"]


def test_the_bundle_reproduces_the_test_predictions_on_raw_bars(
    stacked: dict, small_run: Path, tmp_path: Path
) -> None:
    manifest = json.loads((small_run / "manifest.json").read_text())
    out = tmp_path / "pred.parquet"
    summary = predict_bundle(Path(stacked["directory"]), Path(manifest["input"]["path"]), out)
    pred = pl.read_parquet(out)
    test = pl.read_parquet(Path(stacked["directory"]) / "predictions_test.parquet")
    joined = test.join(pred, on="timestamp", suffix="_inf")
    assert joined.height == test.height and summary["kept"] == "meta"
    np.testing.assert_allclose(joined["p_long"].to_numpy(), joined["p_long_inf"].to_numpy(), atol=1e-6)


def _complementary_data(n: int, seed: int):
    """Label = sign of (a + b) where `a` is visible only to a tabular base (its own feature) and `b`
    only to a sequence base (the mean of one channel over a raw window)."""
    rng = np.random.default_rng(seed)
    step = 300_000_000_000
    ts = 1_700_000_000_000_000_000 + np.arange(n, dtype=np.int64) * step
    a = rng.normal(size=n)
    seq_len, channels = 8, 3
    raw = rng.normal(size=(n + seq_len, channels)).astype(np.float32)
    ends = np.arange(seq_len - 1, n + seq_len - 1)
    b = np.array([raw[e - seq_len + 1 : e + 1, 0].mean() for e in ends]) * np.sqrt(seq_len)
    score = a + b + rng.normal(scale=0.3, size=n)
    y = np.where(score > 0.6, 1, np.where(score < -0.6, -1, 0)).astype(np.int8)
    tab = TabularView(np.c_[a, rng.normal(size=(n, 2))].astype(np.float32), ts, ("a", "noise1", "noise2"))
    win = WindowView(raw, ends.astype(np.int64), seq_len, ts, ("c0", "c1", "c2"))
    return ts, y, tab, win


def test_ensemble_of_complementary_bases_beats_each_base() -> None:
    n = 3000
    ts, y, tab, win = _complementary_data(n, seed=3)
    t1 = ts + 1
    train, test = np.arange(0, 2400), np.arange(2400, n)
    folds = purged_kfold(ts[train], t1[train], 4, 0)
    bases = {
        "logistic": (tab, {"C": 1.0, "class_weight": "none"}),
        "tcn": (
            win,
            {"epochs": 8, "seq_len": 8, "batch_size": 64, "patience": 3, "progress": False, "lr": 0.003},
        ),
    }
    oofs, test_preds = {}, {}
    for name, (view, params) in bases.items():
        cls = get_model_class(name)
        ds = Dataset(view, y)
        plan = CVPlan.from_folds(ts[train], t1[train], folds)
        oof = generate_oof(cls, params, ds.subset(train), plan, InProcessExecutor(), 0)
        oofs[name] = oof.frame
        model = cls(params, seed=0).fit(ds.subset(train[:2000]), ds.subset(train[2100:]))
        p = model.predict_proba(view.subset(test))
        test_preds[name] = pl.DataFrame(
            {
                "timestamp": pl.Series(ts[test]).cast(pl.Datetime("ns", "UTC")),
                **{c: p[:, j] for j, c in enumerate(PROBA_COLUMNS)},
            }
        )
    priors = np.array([(y[train] == c).mean() for c in CLASSES])
    stack = stack_predictions(ts[train], oofs, policy="drop", priors=priors)
    meta_cls = get_model_class("logistic")
    meta = meta_cls({"C": 1.0, "class_weight": "none"}, seed=0).fit(
        Dataset(stack.view, y[train][stack.rows_on_clock])
    )
    test_stack = stack_predictions(ts[test], test_preds, policy="drop", priors=priors)
    y_test = y[test][test_stack.rows_on_clock]
    ens_loss = log_loss(y_test, meta.predict_proba(test_stack.view), labels=list(CLASSES))
    base_losses = {
        b: log_loss(
            y_test,
            test_preds[b].select(PROBA_COLUMNS).to_numpy()[test_stack.rows_on_clock],
            labels=list(CLASSES),
        )
        for b in bases
    }
    assert stack.view.ndim == 2
    for b, loss in base_losses.items():
        assert ens_loss < loss - 0.02, f"ensemble {ens_loss:.4f} does not beat {b} {loss:.4f}"


def test_live_prediction_from_bars_up_to_t_equals_the_batch_prediction_at_t(
    stacked: dict, small_run: Path
) -> None:
    """End-to-end causality: feeding only the bars closed by t (as a live system would) reproduces the
    ensemble's prediction at t computed from the whole file."""
    from mlfactory.pipeline import load_and_validate

    bundle = load_bundle(Path(stacked["directory"]))
    manifest = json.loads((small_run / "manifest.json").read_text())
    bars, _ = load_and_validate(Path(manifest["input"]["path"]), bundle.instrument, bundle.config)
    bars = bars.drop("row")
    full, _ = predict_bars(bundle, bars)
    checked = 0
    for t in full["timestamp"].gather([full.height // 2, full.height - 40]):
        live, _ = predict_bars(bundle, bars.filter(pl.col("timestamp") <= t), latest=1)
        assert live["timestamp"][0] == t
        expected = full.filter(pl.col("timestamp") == t)
        np.testing.assert_allclose(
            live.select(PROBA_COLUMNS).to_numpy(), expected.select(PROBA_COLUMNS).to_numpy(), atol=1e-5
        )
        checked += 1
    assert checked == 2


@pytest.mark.parametrize("keep", GUARD_CANDIDATES)
def test_training_equals_inference_for_every_guard_outcome(
    small_run: Path, keep: str, tmp_path: Path
) -> None:
    """Whatever the guard keeps, `predict` on the run's bars reproduces the ensemble's test predictions."""
    spec = EnsembleSpec(
        bases=("random_forest", "svm"),
        meta_learner="logistic",
        horizon=10,
        params=("random_forest.n_estimators=10", "svm.n_components=32"),
        n_splits=3,
        keep=keep,
        name=f"parity_{keep}",
    )
    result = train_ensemble(small_run, spec)
    assert result.metrics.guard["kept"] == keep and result.metrics.guard["forced"]
    bundle = json.loads((result.directory / "ensemble.json").read_text())
    assert bundle["combiner"]["candidate"] == keep
    manifest = json.loads((small_run / "manifest.json").read_text())
    out = tmp_path / "preds.parquet"
    summary = predict_bundle(result.directory, Path(manifest["input"]["path"]), out)
    assert summary["kept"] == keep
    test = pl.read_parquet(result.directory / "predictions_test.parquet")
    joined = test.join(pl.read_parquet(out), on="timestamp", how="left", suffix="_inf")
    assert joined.height == test.height and joined["p_long_inf"].null_count() == 0
    for c in PROBA_COLUMNS:
        np.testing.assert_allclose(joined[c].to_numpy(), joined[f"{c}_inf"].to_numpy(), rtol=0, atol=1e-9)


def test_a_bundle_path_outside_the_bundle_is_refused(small_run: Path, stacked: dict, tmp_path: Path) -> None:
    import shutil

    from mlfactory.errors import ArtifactError

    copy = tmp_path / "bundle"
    shutil.copytree(stacked["directory"], copy)
    spec = json.loads((copy / "ensemble.json").read_text())
    spec["combiner"]["directory"] = "../../elsewhere"
    (copy / "ensemble.json").write_text(json.dumps(spec))
    with pytest.raises(ArtifactError, match=r"ensemble\.json: sha256"):  # an edited file is refused first
        load_bundle(copy)
    from mlfactory.artifacts import write_file_manifest

    write_file_manifest(copy)  # even with its manifest recomputed, the path may not leave the bundle
    with pytest.raises(ArtifactError, match="leaves the directory"):
        load_bundle(copy)
