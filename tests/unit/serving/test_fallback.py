"""The fallback rule on hand-made base predictions: renormalised inverse-loss average, ranked best base."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from mlfactory.adapters.stacking import probability_frame
from mlfactory.serving.bundle import BundleSpec
from mlfactory.serving.fallback import fallback_active, fallback_bases, fallback_predictions, ranked_bases

T0 = 1_710_000_000_000_000_000
STEP = 300_000_000_000
LOSSES = {"a": 1.05, "b": 0.98, "c": 1.10}


def _spec(kept: str = "meta", policy: str = "drop", rule: str = "available") -> BundleSpec:
    inv = {b: 1 / v for b, v in LOSSES.items()}
    return BundleSpec(
        ensemble_id="x_h10", horizon=10, decision_timeframe="5m",
        bases={b: {"model": "m", "directory": f"bases/{b}/model", "routing": f"bases/{b}/routing.json"} for b in LOSSES},
        meta_learner="logistic",
        combiner={"candidate": kept, "model": "voting", "directory": "combiner"},
        guard={"metric": "log_loss", "scores": {}, "kept": kept, "forced": True},
        stack_columns=[f"{b}__{c}" for b in LOSSES for c in ("p_short", "p_neutral", "p_long")],
        priors=[0.3, 0.4, 0.3], coverage_policy=policy,
        fallback={"rule": rule, "oof_log_loss": LOSSES, "weights": {b: w / sum(inv.values()) for b, w in inv.items()}},
        meta_features=False, pipeline_config={}, instrument={},
        conventions={"symbol": "MES", "format": "generic", "stamp": "close", "timezone": "America/Chicago"},
    )  # fmt: skip


def _frames(seed: int = 0) -> tuple[np.ndarray, dict[str, pl.DataFrame]]:
    """Six decisions; base a predicts 0-5, b 2-5, c 1 and 4-5 (decision 0: a alone; 3: a and b)."""
    rng = np.random.default_rng(seed)
    ts = T0 + np.arange(6, dtype=np.int64) * STEP
    rows = {"a": [0, 1, 2, 3, 4, 5], "b": [2, 3, 4, 5], "c": [1, 4, 5]}
    frames = {}
    for b, idx in rows.items():
        p = rng.dirichlet(np.ones(3), size=len(idx))
        frames[b] = probability_frame(ts[idx], p)
    return ts, frames


def _slow_average(spec: BundleSpec, t: int, frames: dict[str, pl.DataFrame]) -> tuple[np.ndarray, list[str]]:
    """One decision, base by base: the recorded weights renormalised over the bases present."""
    total, weight, used = np.zeros(3), 0.0, []
    for b, frame in frames.items():
        row = frame.filter(pl.col("timestamp").dt.epoch("ns") == t)
        if row.height:
            p = (
                row.select("p_short", "p_neutral", "p_long")
                .to_numpy()[0]
                .astype(np.float32)
                .astype(np.float64)
            )
            total += spec.fallback.weights[b] * p / p.sum()
            weight += spec.fallback.weights[b]
            used.append(b)
    return total / weight, used


@pytest.mark.parametrize("kept", ["meta", "weighted_average"])
def test_an_average_falls_back_to_the_renormalised_weights_of_the_bases_that_predicted(kept: str) -> None:
    spec = _spec(kept)
    ts, frames = _frames()
    out_ts, proba, used = fallback_predictions(spec, ts, frames)
    assert out_ts.tolist() == ts.tolist()  # every decision has some base
    for i, t in enumerate(ts.tolist()):
        expected, names = _slow_average(spec, t, frames)
        np.testing.assert_allclose(proba[i], expected, rtol=0, atol=1e-12)
        assert used[i] == ",".join(names)
    assert used[0] == "a" and used[3] == "a,b" and used[5] == "a,b,c"
    # the base alone that is available: its own (renormalised) probabilities
    alone = frames["a"].select("p_short", "p_neutral", "p_long").to_numpy()[0].astype(np.float32)
    np.testing.assert_allclose(proba[0], alone / alone.sum(), rtol=0, atol=1e-7)


def test_the_best_base_falls_back_to_the_best_ranked_base_that_predicted() -> None:
    spec = _spec("best_base")
    assert ranked_bases(spec) == ("b", "a", "c")  # by OOF log loss, lowest first
    ts, frames = _frames(seed=1)
    ranked = {b: frames[b] for b in ranked_bases(spec)}
    out_ts, proba, used = fallback_predictions(spec, ts, ranked)
    assert used == ["a", "a", "b", "b", "b", "b"]  # b wherever it predicted, else a (c never: a ranks above)
    for i, (t, b) in enumerate(zip(ts.tolist(), used, strict=True)):
        row = frames[b].filter(pl.col("timestamp").dt.epoch("ns") == t)
        p = row.select("p_short", "p_neutral", "p_long").to_numpy()[0].astype(np.float32).astype(np.float64)
        np.testing.assert_allclose(proba[i], p / p.sum(), rtol=0, atol=1e-12)
    assert out_ts.tolist() == ts.tolist()


def test_decisions_no_base_predicted_get_no_fallback_row() -> None:
    spec = _spec("meta")
    ts, frames = _frames()
    later = T0 + 10 * STEP
    out_ts, _, used = fallback_predictions(spec, np.r_[ts, later], frames)
    assert later not in out_ts.tolist() and len(used) == len(ts)


def test_the_fallback_applies_to_drop_bundles_with_rule_available_only() -> None:
    assert fallback_active(_spec("meta"))
    assert not fallback_active(_spec("meta", rule="none"))
    assert not fallback_active(_spec("meta", policy="impute"))  # the combiner reads the masks instead
    assert fallback_bases(_spec("meta", rule="none"), ("a", "b", "c")) == ()
    assert fallback_bases(_spec("weighted_average"), ("a", "b", "c")) == ("a", "b", "c")
    assert fallback_bases(_spec("best_base"), ("b",)) == ("b", "a", "c")
