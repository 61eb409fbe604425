"""`mlfactory train-ensemble`: heterogeneous stacking on one decision clock (DESIGN.md invariants 2 and 4).

1. Every base gets its own timeframe, MTF strategy and feature set (its config), aligned to the run's
   decision clock; OOF predictions come from the SAME purged folds over the training period.
2. The stacked OOF matrix (base probabilities + optional meta-features) is 2D; rows a base cannot
   predict are dropped or imputed by an explicit, reported policy. The meta-learner is fit on it.
3. The bases are retrained on the whole training period (early stopping on validation) and predict
   validation and test.
4. Overfitting guard: on validation (later than every OOF row, purged), the meta-learner competes
   with the OOF-log-loss-weighted average and the best single base; by default the winner is kept,
   and the evidence is written to metrics.json.
5. The bundle — retrained bases with their routing, the meta-learner, priors, policy — is saved in
   ``RUN/ensembles/<id>/`` for inference.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from sklearn.metrics import log_loss

from mlfactory.adapters.views import TabularView
from mlfactory.errors import ConfigError
from mlfactory.evaluation import class_frequencies
from mlfactory.models.base import CLASSES, PROBA_COLUMNS, Dataset, InputKind
from mlfactory.models.registry import get_model_class
from mlfactory.runtime.executor import Executor, make_executor
from mlfactory.selection.step import FeatureSelector
from mlfactory.splits import purged_kfold
from mlfactory.training.cross_validate import params_per_model, training_clock
from mlfactory.training.evaluate import evaluate_split
from mlfactory.training.model_data import ModelData, build_model_data
from mlfactory.training.oof import generate_oof, write_oof
from mlfactory.training.overfitting_stats import pbo_of_candidates, run_trial_sharpes
from mlfactory.training.run_data import RunData
from mlfactory.training.stacking import (
    CoveragePolicy,
    block_columns,
    check_bases,
    meta_feature_frame,
    oof_correlation,
    priors_from,
    stack_predictions,
)
from mlfactory.training.train import (
    resolve_config,
    routing_record,
    select_features,
    selection_cache_path,
    write_metrics,
)

INNER_VAL_FRAC = 0.15
Progress = Callable[[str], None]


@dataclass(frozen=True)
class EnsembleSpec:
    bases: tuple[str, ...]
    meta_learner: str
    horizon: int
    params: tuple[str, ...] = ()
    n_splits: int = 5
    coverage: CoveragePolicy = "drop"
    meta_features: bool = True
    guard: bool = True
    name: str | None = None

    @property
    def ensemble_id(self) -> str:
        stem = self.name or f"{'-'.join(self.bases)}__{self.meta_learner}"
        return f"{stem}_h{self.horizon}"


def _check_meta(name: str) -> None:
    cls = get_model_class(name)
    if cls.input_kind != InputKind.TABULAR:
        raise ConfigError(
            f"--meta-learner {name!r} takes {cls.input_kind.value} input; meta-learners work on the stacked OOF "
            "matrix, which is always 2D — choose a tabular model (logistic, ridge_meta, mlp_meta, calibrated_meta, xgboost_meta, voting)"
        )


def _predictions_frame(ts: np.ndarray, proba: np.ndarray) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "timestamp": pl.Series(ts).cast(pl.Datetime("ns", "UTC")),
            **{c: proba[:, j] for j, c in enumerate(PROBA_COLUMNS)},
        }
    )


def _regime(data: RunData) -> pl.DataFrame | None:
    frame = data.features(data.decision_timeframe)
    cols = [c for c in frame.columns if c.startswith("vol_regime") and "__" not in c]
    return frame.select("timestamp", cols[0]) if cols else None


def _weighted_average(stack: TabularView, bases: Sequence[str], weights: dict[str, float]) -> np.ndarray:
    names = list(stack.feature_names)
    out = np.zeros((len(stack), 3))
    for b in bases:
        idx = [names.index(c) for c in block_columns(b)]
        out += weights[b] * stack.x[:, idx]
    return out / out.sum(axis=1, keepdims=True)


def _block(stack: TabularView, base: str) -> np.ndarray:
    names = list(stack.feature_names)
    p = stack.x[:, [names.index(c) for c in block_columns(base)]].astype(np.float64)
    return p / p.sum(axis=1, keepdims=True)


def train_ensemble(
    run: Path,
    spec: EnsembleSpec,
    *,
    seed: int | None = None,
    progress: Progress = lambda m: None,
    executor: Executor | None = None,
) -> dict[str, Any]:
    check_bases(spec.bases)
    _check_meta(spec.meta_learner)
    data = RunData(run)
    seed = int(data.manifest.get("seed", 0) if seed is None else seed)
    h = spec.horizon
    out = data.run.ensemble_dir(spec.ensemble_id)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    clock = training_clock(data, h)
    embargo_ns = int(data.splits["embargo_ns"])
    folds = purged_kfold(clock.ts, clock.t1, spec.n_splits, embargo_ns)
    priors = priors_from(clock.y)
    overrides = params_per_model([*spec.bases, spec.meta_learner], spec.params)
    configs = {b: resolve_config(b, params=overrides[b]) for b in spec.bases}
    model_data: dict[str, ModelData] = {}
    oofs: dict[str, pl.DataFrame] = {}
    oof_loss: dict[str, float] = {}
    # the bases' OOF folds run on the caller's executor (`grid`), else one after another here
    with nullcontext(executor) if executor is not None else make_executor("inprocess") as ex:
        for b, cfg in configs.items():
            progress(
                f"ensemble: OOF for {b} ({cfg.timeframe}, {cfg.mtf_strategy.value}, {cfg.feature_set}) on {len(folds)} folds"
            )
            md = model_data[b] = build_model_data(data, cfg, h)
            train_rows = md.rows("train")
            oof = generate_oof(
                cfg.model_cls, cfg.params, md.dataset.subset(train_rows), folds, ex, seed, INNER_VAL_FRAC,
                t1=clock.t1, clock_ts=clock.ts, embargo_ns=embargo_ns,
                selector=FeatureSelector.for_model(b, cfg.model_cls.family, seed),
            )  # fmt: skip
            base_dir = out / "bases" / b
            write_oof(oof, base_dir)
            (base_dir / "routing.json").write_text(json.dumps(routing_record(cfg, md), indent=2))
            oofs[b] = oof.frame
            ts = oof.frame["timestamp"].dt.epoch("ns").to_numpy()
            y = clock.y[np.searchsorted(clock.ts, ts)]
            oof_loss[b] = float(log_loss(y, oof.frame.select(PROBA_COLUMNS).to_numpy(), labels=list(CLASSES)))
    timings["oof"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    meta_feats = (
        meta_feature_frame(data.labels(h)["timestamp"].dt.epoch("ns").to_numpy(), _regime(data))
        if spec.meta_features
        else None
    )
    stack = stack_predictions(clock.ts, oofs, policy=spec.coverage, priors=priors, meta_features=meta_feats)
    stack_y = clock.y[stack.rows_on_clock]
    weights_all = data.labels(h).filter(pl.col("split") == "train")["weight"].to_numpy()
    meta_cls = get_model_class(spec.meta_learner)
    meta_cfg = resolve_config(spec.meta_learner, params=overrides[spec.meta_learner])
    meta = meta_cls(meta_cfg.params, seed=seed).fit(
        Dataset(stack.view, stack_y, weights_all[stack.rows_on_clock])
    )
    _write_stack(out, stack, stack_y)
    timings["meta"] = time.perf_counter() - t1

    t2 = time.perf_counter()
    split_preds: dict[str, dict[str, pl.DataFrame]] = {"val": {}, "test": {}}
    for b, cfg in configs.items():
        progress(f"ensemble: retrain {b} on the whole training period")
        md = select_features(model_data[b], cfg, seed, selection_cache_path(data, cfg, h))
        (out / "bases" / b / "routing.json").write_text(json.dumps(routing_record(cfg, md), indent=2))
        train, val = md.dataset.subset(md.rows("train")), md.dataset.subset(md.rows("val"))
        model = cfg.model_cls(cfg.params, seed=seed).fit(train, val)
        model.save(out / "bases" / b / "model")
        for split in ("val", "test"):
            idx = md.rows(split)
            split_preds[split][b] = _predictions_frame(
                md.timestamps[idx], model.predict_proba(md.dataset.x.subset(idx))
            )
    timings["retrain"] = time.perf_counter() - t2

    labels = data.labels(h)
    weights = {b: 1.0 / oof_loss[b] for b in spec.bases}
    total = sum(weights.values())
    weights = {b: w / total for b, w in weights.items()}
    best_base = min(oof_loss, key=oof_loss.get)  # type: ignore[arg-type]
    candidates: dict[str, dict[str, Any]] = {}
    for split in ("val", "test"):
        rows = labels.filter(pl.col("split") == split)
        ts_all = rows["timestamp"].dt.epoch("ns").to_numpy()
        feats = meta_feature_frame(ts_all, _regime(data)) if spec.meta_features else None
        st = stack_predictions(
            ts_all, split_preds[split], policy=spec.coverage, priors=priors, meta_features=feats
        )
        candidates[split] = {
            "ts": st.view.timestamps,
            "y": rows["label"].to_numpy()[st.rows_on_clock],
            "ret": rows["ret"].to_numpy()[st.rows_on_clock],
            "coverage": st.report,
            "meta": meta.predict_proba(st.view),
            "weighted_average": _weighted_average(st.view, spec.bases, weights),
            "best_base": _block(st.view, best_base),
        }
    val = candidates["val"]
    guard_scores = {
        k: float(log_loss(val["y"], val[k], labels=list(CLASSES)))
        for k in ("meta", "weighted_average", "best_base")
    }
    kept = min(guard_scores, key=guard_scores.get) if spec.guard else "meta"  # type: ignore[arg-type]

    freqs = class_frequencies(clock.y)
    trials = run_trial_sharpes(data.run.root, exclude=out) + _candidate_trials(candidates["test"], kept)
    evaluations = {
        s: evaluate_split(data, h, c["ts"], c[kept], c["y"], c["ret"], freqs, other_trials=trials)
        for s, c in candidates.items()
    }
    pbo = pbo_of_candidates(_oof_candidate_pnl(stack, h, spec.bases, weights, data))
    metrics: dict[str, Any] = {
        "model": spec.ensemble_id,
        "ensemble": spec.ensemble_id,
        "horizon": h,
        "family": "ensemble",
        "bases": list(spec.bases),
        "meta_learner": spec.meta_learner,
        "seed": seed,
        "folds": len(folds),
        "oof_log_loss": oof_loss,
        "oof_correlation": oof_correlation(oofs),
        "stack_coverage": {
            "oof": stack.report,
            "val": candidates["val"]["coverage"],
            "test": candidates["test"]["coverage"],
        },
        "guard": {
            "metric": "log_loss (validation)",
            "meta": guard_scores["meta"],
            "weighted_average": guard_scores["weighted_average"],
            "best_base": guard_scores["best_base"],
            "best_base_name": best_base,
            "weights": weights,
            "enabled": spec.guard,
            "kept": kept,
        },
        "base_test_log_loss": {b: _base_split_loss(split_preds["test"][b], labels) for b in spec.bases},
        "classification": {s: e.classification for s, e in evaluations.items()},
        "trading": {s: e.trading for s, e in evaluations.items()},
        "signal": {s: e.signal for s, e in evaluations.items()},
        "timings_seconds": {k: round(v, 3) for k, v in timings.items()},
        "overfitting": {
            "dsr": evaluations["test"].trading["deflated_sharpe"]["dsr"],
            "deflated_sharpe": evaluations["test"].trading["deflated_sharpe"],
            "pbo": pbo,
        },
    }
    meta.save(out / "meta")
    write_metrics(out, metrics)
    for s, e in evaluations.items():
        e.predictions.write_parquet(out / f"predictions_{s}.parquet")
    evaluations["test"].equity.write_parquet(out / "equity_test.parquet")
    _write_bundle(out, data, spec, configs, weights, best_base, kept, priors)
    metrics["directory"] = str(out)
    return metrics


def _candidate_trials(test: dict[str, Any], kept: str) -> list[float]:
    """Per-decision Sharpe ratios of the candidates the guard did not keep (configurations tried)."""
    out = []
    for name in ("meta", "weighted_average", "best_base"):
        if name == kept:
            continue
        pnl = _side(test[name]) * test["ret"]
        if pnl.std() > 0:
            out.append(float(pnl.mean() / pnl.std()))
    return out


def _side(p: np.ndarray) -> np.ndarray:
    top = p.argmax(axis=1)
    return np.where(top == 2, 1.0, np.where(top == 0, -1.0, 0.0))


def _oof_candidate_pnl(stack, horizon: int, bases, weights, data: RunData) -> dict[str, np.ndarray]:
    """Per-decision P&L (label return × argmax side, minus round-trip cost) of each candidate on the OOF rows."""
    train = data.labels(horizon).filter(pl.col("split") == "train")[stack.rows_on_clock]
    ret = train["ret"].to_numpy()
    # cost as a return at each decision's own entry price (not a whole-file average, which would see later prices)
    entry = (
        train.select("timestamp")
        .join(
            data.bars(data.decision_timeframe).select("timestamp", "close"),
            on="timestamp",
            how="left",
            maintain_order="left",
        )["close"]
        .to_numpy()
    )
    cost = data.instrument.round_trip_cost_points() / entry
    out = {}
    for b in bases:
        side = _side(_block(stack.view, b))
        out[b] = side * ret - np.abs(side) * cost
    side = _side(_weighted_average(stack.view, bases, weights))
    out["weighted_average"] = side * ret - np.abs(side) * cost
    return out


def _base_split_loss(pred: pl.DataFrame, labels: pl.DataFrame) -> float:
    joined = pred.join(labels.select("timestamp", "label"), on="timestamp", how="inner")
    return float(
        log_loss(joined["label"].to_numpy(), joined.select(PROBA_COLUMNS).to_numpy(), labels=list(CLASSES))
    )


def _write_stack(out: Path, stack, y: np.ndarray) -> None:
    frame = pl.DataFrame(stack.view.x, schema=list(stack.view.feature_names)).with_columns(
        pl.Series("timestamp", stack.view.timestamps).cast(pl.Datetime("ns", "UTC")),
        pl.Series("label", y.astype(np.int8)),
    )
    frame.select("timestamp", "label", *stack.view.feature_names).write_parquet(out / "oof_stack.parquet")


def _write_bundle(
    out: Path, data: RunData, spec: EnsembleSpec, configs, weights, best_base, kept, priors
) -> None:
    bundle = {
        "format": "mlfactory-ensemble/1",
        "ensemble_id": spec.ensemble_id,
        "horizon": spec.horizon,
        "decision_timeframe": data.decision_timeframe,
        "bases": {
            b: {"directory": f"bases/{b}/model", "routing": f"bases/{b}/routing.json", "model": cfg.model}
            for b, cfg in configs.items()
        },
        "meta_learner": {"name": spec.meta_learner, "directory": "meta"},
        "kept": kept,
        "weights": weights,
        "best_base": best_base,
        "priors": priors.tolist(),
        "coverage_policy": spec.coverage,
        "meta_features": spec.meta_features,
        "pipeline_config": data.manifest["config"],
        "instrument": data.manifest["instrument"],
    }
    (out / "ensemble.json").write_text(json.dumps(bundle, indent=2, sort_keys=True))
    state = data.run.root / "features" / "fitted_state.json"
    if state.is_file():
        (out / "features_fitted_state.json").write_text(state.read_text())
