"""The fallback where a base cannot predict yet, on bundles trained through the real pipeline.

svm (tabular) and tcn with a 60-bar window of 5m bars (5 hours): at the start of the data only svm
can predict; after that both can.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from mlfactory.artifacts import write_file_manifest
from mlfactory.models.base import PROBA_COLUMNS
from mlfactory.serving.bundle import Bundle, load_bundle
from mlfactory.serving.fallback import ranked_bases
from mlfactory.serving.inference import PREDICTION_COLUMNS, InferenceData, predict_bars, predict_base
from mlfactory.serving.live import LivePredictor
from mlfactory.training.ensemble import EnsembleSpec, train_ensemble

NEURAL = ("epochs=1", "batch_size=128", "patience=1", "progress=false", "seq_len=60")
AVERAGE = "weighted_average(available)"


def _train(run: Path, keep: str, coverage: str = "drop") -> Bundle:
    spec = EnsembleSpec(
        bases=("svm", "tcn"),
        meta_learner="logistic",
        horizon=10,
        params=("svm.n_components=32", *(f"tcn.{p}" for p in NEURAL)),
        n_splits=3,
        keep=keep,
        coverage=coverage,  # type: ignore[arg-type]
        name=f"fallback_{keep}_{coverage}",
    )
    return load_bundle(train_ensemble(run, spec).directory)


@pytest.fixture(scope="module")
def meta_bundle(small_run: Path) -> Bundle:
    return _train(small_run, "meta")


def _with_rule(bundle: Bundle, rule: str, tmp: Path) -> Bundle:
    """The same bundle with another fallback rule recorded (its file manifest rewritten)."""
    copy = tmp / f"bundle_{rule}"
    shutil.copytree(bundle.directory, copy)
    spec = json.loads((copy / "ensemble.json").read_text())
    spec["fallback"]["rule"] = rule
    (copy / "ensemble.json").write_text(json.dumps(spec))
    write_file_manifest(copy)
    return load_bundle(copy)


def _own(bundle: Bundle, name: str, bars: pl.DataFrame, ts: pl.Series) -> np.ndarray:
    """The base's own probabilities at ``ts`` as the vote reads them (float32 in the stack, renormalised)."""
    frame = predict_base(name, bundle.bases[name], InferenceData(bars, bundle), ts.dt.epoch("ns").to_numpy())
    assert frame["timestamp"].to_list() == ts.to_list()
    p = frame.select(PROBA_COLUMNS).to_numpy().astype(np.float32).astype(np.float64)
    return p / p.sum(axis=1, keepdims=True)


def test_a_window_base_warming_up_leaves_the_tabular_base_alone_there(meta_bundle: Bundle, bars_of) -> None:
    bars = bars_of(meta_bundle)
    out, info = predict_bars(meta_bundle, bars)
    assert out.columns == list(PREDICTION_COLUMNS)  # the documented columns (docs/python-api.md)
    fallback = out.filter(pl.col("combiner") == AVERAGE)
    full = out.filter(pl.col("combiner") == "meta")
    assert fallback.height + full.height == out.height and info["fallback_rows"] == fallback.height
    assert fallback.height > 10 and set(fallback["bases_used"]) == {"svm"}
    assert set(full["bases_used"]) == {"svm,tcn"}
    assert fallback["timestamp"].max() < full["timestamp"].min()  # the window's warm-up, then the combiner
    # tcn has no prediction there; the row is svm's own prediction
    data = InferenceData(bars, meta_bundle)
    tcn = predict_base("tcn", meta_bundle.bases["tcn"], data, fallback["timestamp"].dt.epoch("ns").to_numpy())
    assert tcn.height == 0
    np.testing.assert_allclose(
        fallback.select(PROBA_COLUMNS).to_numpy(),
        _own(meta_bundle, "svm", bars, fallback["timestamp"]),
        atol=1e-12,
    )
    assert (
        fallback["position"].to_numpy() == np.argmax(fallback.select(PROBA_COLUMNS).to_numpy(), 1) - 1
    ).all()


def test_with_fallback_none_those_rows_are_absent_and_the_meta_rows_unchanged(
    meta_bundle: Bundle, bars_of, tmp_path: Path
) -> None:
    bars = bars_of(meta_bundle)
    with_fallback, _ = predict_bars(meta_bundle, bars)
    none = _with_rule(meta_bundle, "none", tmp_path)
    without, info = predict_bars(none, bars)
    assert info["fallback_rows"] == 0 and set(without["combiner"]) == {"meta"}
    assert without.equals(with_fallback.filter(pl.col("combiner") == "meta"))
    # and those rows are the training run's own test predictions
    test = pl.read_parquet(meta_bundle.directory / "predictions_test.parquet")
    joined = test.join(with_fallback, on="timestamp", how="left", suffix="_inf")
    assert joined["p_long_inf"].null_count() == 0 and set(joined["combiner"]) == {"meta"}
    for c in PROBA_COLUMNS:
        np.testing.assert_allclose(joined[c].to_numpy(), joined[f"{c}_inf"].to_numpy(), atol=1e-6)


def test_the_fallback_weights_are_the_inverse_training_oof_losses(
    meta_bundle: Bundle, small_run: Path
) -> None:
    """A slow reference from the written OOF stack and the labels' sample weights, row by row."""
    stack = pl.read_parquet(meta_bundle.directory / "oof_stack.parquet")
    weights = pl.read_parquet(small_run / "labels" / "h10.parquet").select("timestamp", "weight")
    rows = stack.join(weights, on="timestamp", how="left").to_dicts()
    assert len(rows) > 100 and all(r["weight"] is not None for r in rows)
    losses = {}
    for base in ("svm", "tcn"):
        total = weight = 0.0
        for r in rows:
            p = [float(r[f"{base}__{c}"]) for c in PROBA_COLUMNS]
            p = [max(v, 0.0) / sum(max(q, 0.0) for q in p) for v in p]
            total += -r["weight"] * np.log(max(p[r["label"] + 1], 1e-15))
            weight += r["weight"]
        losses[base] = total / weight
    recorded = meta_bundle.spec.fallback
    assert recorded.rule == "available"
    for base, loss in losses.items():
        assert recorded.oof_log_loss[base] == pytest.approx(loss, rel=1e-9)
        inverse = {b: 1 / v for b, v in losses.items()}
        assert recorded.weights[base] == pytest.approx(inverse[base] / sum(inverse.values()), rel=1e-9)
    metrics = json.loads((meta_bundle.directory / "metrics.json").read_text())
    assert metrics["guard"]["weights"] == recorded.weights  # the weighted_average guard candidate's


def _assert_live_equals_batch_through_the_warm_up(
    bundle: Bundle, bars: pl.DataFrame, kept: str, fallback: str
) -> None:
    """Replayed minute by minute from the first bar, the live predictor emits batch's rows: the
    fallback's during the window base's warm-up, then the kept combiner's."""
    batch, _ = predict_bars(bundle, bars)
    first_full = batch.filter(pl.col("combiner") == kept)["timestamp"][0]
    head = bars.filter(pl.col("timestamp") <= first_full + pl.duration(minutes=30))
    expected, _ = predict_bars(bundle, head)
    assert (expected["combiner"] == fallback).sum() > 10 and (expected["combiner"] == kept).sum() > 3
    live = LivePredictor.replaying(bundle, head)
    stream = live.update_validated(head)
    assert stream["timestamp"].to_list() == expected["timestamp"].to_list()
    assert stream["combiner"].to_list() == expected["combiner"].to_list()
    assert stream["bases_used"].to_list() == expected["bases_used"].to_list()
    np.testing.assert_allclose(
        stream.select(PROBA_COLUMNS).to_numpy(), expected.select(PROBA_COLUMNS).to_numpy(), atol=1e-6
    )


def test_the_live_predictor_predicts_from_the_ready_base_during_the_warm_up(
    meta_bundle: Bundle, bars_of
) -> None:
    _assert_live_equals_batch_through_the_warm_up(meta_bundle, bars_of(meta_bundle), "meta", AVERAGE)


def test_a_kept_best_base_that_cannot_predict_yet_leaves_the_next_ranked_base(
    small_run: Path, bars_of, tmp_path: Path
) -> None:
    bundle = _train(small_run, "best_base")
    ranked = ranked_bases(bundle.spec)
    if ranked[0] != "tcn":
        pytest.skip(f"the guard's best base here is {ranked[0]}, which predicts wherever tcn does")
    bars = bars_of(bundle)
    out, _ = predict_bars(bundle, bars)
    fallback = out.filter(pl.col("combiner") == "best_base(available)")
    best = out.filter(pl.col("combiner") == "best_base")
    assert (
        fallback.height > 10 and set(fallback["bases_used"]) == {"svm"} and set(best["bases_used"]) == {"tcn"}
    )
    np.testing.assert_allclose(
        fallback.select(PROBA_COLUMNS).to_numpy(),
        _own(bundle, "svm", bars, fallback["timestamp"]),
        atol=1e-12,
    )
    without, _ = predict_bars(_with_rule(bundle, "none", tmp_path), bars)
    assert without.equals(best)
    _assert_live_equals_batch_through_the_warm_up(bundle, bars, "best_base", "best_base(available)")


def test_an_impute_bundle_keeps_its_trained_mask_path(small_run: Path, bars_of, tmp_path: Path) -> None:
    """Its meta-learner reads the masks on a partial row (that is its fallback); the rule changes nothing."""
    bundle = _train(small_run, "meta", coverage="impute")
    bars = bars_of(bundle)
    out, info = predict_bars(bundle, bars)
    partial = out.filter(pl.col("combiner") == "meta(imputed)")
    assert partial.height > 10 and set(partial["bases_used"]) == {"svm"} and info["fallback_rows"] == 0
    assert set(out["combiner"]) == {"meta", "meta(imputed)"}
    assert set(out.filter(pl.col("combiner") == "meta")["bases_used"]) == {"svm,tcn"}
    without, _ = predict_bars(_with_rule(bundle, "none", tmp_path), bars)
    assert without.equals(out)
