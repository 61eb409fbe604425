"""The stages of `train-ensemble` (see ``training.ensemble``), each a function returning a typed result."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
from sklearn.metrics import log_loss

from mlfactory.adapters.stacking import (
    CoveragePolicy,
    StackedMatrix,
    block_probabilities,
    oof_correlation,
    probability_frame,
    stack_inputs,
)
from mlfactory.evaluation.metrics_schema import MetricsRecord
from mlfactory.evaluation.trials import decision_net_returns, entry_prices, record_decision_trial
from mlfactory.models.base import CLASSES, Dataset, Model
from mlfactory.models.config import ModelConfig
from mlfactory.models.registry import get_model_class
from mlfactory.run_data import RunData
from mlfactory.runtime.executor import Executor
from mlfactory.selection.step import FeatureSelector
from mlfactory.serving.bundle import (
    FITTED_STATE_FILE,
    BaseEntry,
    BundleSpec,
    CombinerEntry,
    FallbackRecord,
    GuardRecord,
    run_conventions,
    write_bundle_spec,
)
from mlfactory.training.clock import DecisionClock
from mlfactory.training.configs import routing_record
from mlfactory.training.cv_plan import CVPlan
from mlfactory.training.evaluate import evaluate_split, overfitting_block
from mlfactory.training.fitting import final_model_data, fit_final, write_evaluations
from mlfactory.training.model_data import ModelData, build_model_data
from mlfactory.training.oof import generate_oof, oof_log_loss, write_oof
from mlfactory.training.overfitting_stats import pbo_of_candidates, run_trial_sharpes

if TYPE_CHECKING:
    from mlfactory.training.ensemble_fit import EnsembleSpec
    from mlfactory.training.grid_jobs import OofJobs

__all__ = ["CoveragePolicy"]
Progress = Callable[[str], None]
SPLITS = ("val", "test")


@contextmanager
def staged_directory(out: Path) -> Iterator[Path]:
    """Write a bundle aside and rename it into place whole: a killed run never leaves a mixed bundle."""
    staging = out.parent / f".{out.name}.staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        out.rename(old)
    staging.rename(out)
    shutil.rmtree(old, ignore_errors=True)


@dataclass(frozen=True)
class OofStage:
    predictions: dict[str, pl.DataFrame]  # base -> (timestamp, fold, p_short, p_neutral, p_long)
    log_loss: dict[str, float]
    model_data: dict[str, ModelData]  # each base's data on the whole decision clock


def oof_stage(
    data: RunData,
    clock: DecisionClock,
    plan: CVPlan,
    configs: Mapping[str, ModelConfig],
    ex: Executor,
    seed: int,
    out: Path,
    progress: Progress,
    *,
    jobs: OofJobs | None = None,
) -> OofStage:
    """Every base's OOF predictions on the shared plan; written to ``bases/<b>/oof.parquet``.

    With ``jobs`` (the grid's store and executor) each fold is a content-addressed job: the folds
    whose key has a result are read back, the others computed — the same predictions either way.
    """
    preds, losses, mds = {}, {}, {}
    for b, cfg in configs.items():
        progress(
            f"ensemble: OOF for {b} ({cfg.timeframe}, {cfg.mtf_strategy.value}, {cfg.feature_set}) on {len(plan.folds)} folds"
        )
        md = mds[b] = build_model_data(data, cfg, clock)
        dataset = md.dataset.subset(md.rows("train"))
        if jobs is not None:
            oof = jobs.oof(data, b, cfg, dataset, plan, seed)
        else:
            selector = FeatureSelector.for_model(b, cfg.model_cls.family, seed)
            oof = generate_oof(cfg.model_cls, cfg.params, dataset, plan, ex, seed, selector=selector)
        write_oof(oof, out / "bases" / b)
        preds[b] = oof.frame
        losses[b] = oof_log_loss(oof.frame, plan.clock)[0]
    return OofStage(preds, losses, mds)


@dataclass(frozen=True)
class StackStage:
    matrix: StackedMatrix  # the OOF stack: 2D, on the plan's clock rows it keeps
    dataset: Dataset  # the matrix with the clock's labels and sample weights
    priors: np.ndarray  # training class frequencies (imputation, baselines)
    policy: CoveragePolicy
    meta_features: bool

    def stack(self, data: RunData, ts: np.ndarray, predictions: Mapping[str, pl.DataFrame]) -> StackedMatrix:
        """The same stacking (policy, priors, meta-features) applied to other predictions."""
        regime = data.features(data.decision_timeframe) if self.meta_features else None
        return stack_inputs(
            ts, predictions, policy=self.policy, priors=self.priors, regime_features=regime,
            meta_features=self.meta_features,
        )  # fmt: skip


def stack_stage(
    data: RunData, plan: CVPlan, oof: OofStage, policy: CoveragePolicy, meta_features: bool
) -> StackStage:
    regime = data.features(data.decision_timeframe) if meta_features else None
    priors = plan.clock.class_priors()
    matrix = stack_inputs(
        plan.clock.ts, oof.predictions, policy=policy, priors=priors, regime_features=regime,
        meta_features=meta_features,
    )  # fmt: skip
    rows = matrix.rows_on_clock
    return StackStage(
        matrix,
        Dataset(matrix.view, plan.clock.y[rows], plan.clock.weight[rows]),
        priors,
        policy,
        meta_features,
    )


@dataclass(frozen=True)
class CombinerStage:
    candidates: dict[str, Model]  # meta, weighted_average, best_base — fitted on the OOF stack
    meta_learner: str


def combiner_stage(stack: StackStage, meta_cfg: ModelConfig, seed: int) -> CombinerStage:
    """Every guard candidate as a fitted model with ``predict_proba`` over the stacked matrix."""
    voting = get_model_class("voting")
    candidates = {
        "meta": meta_cfg.model_cls(meta_cfg.params, seed=seed),
        "weighted_average": voting({"weighting": "inverse_loss"}, seed=seed),
        "best_base": voting({"weighting": "best"}, seed=seed),
    }
    return CombinerStage({k: m.fit(stack.dataset) for k, m in candidates.items()}, meta_cfg.model)


@dataclass(frozen=True)
class RetrainStage:
    models: dict[str, Model]
    routing: dict[str, dict]
    predictions: dict[str, dict[str, pl.DataFrame]]  # split -> base -> probabilities


def retrain_stage(
    data: RunData, oof: OofStage, configs: Mapping[str, ModelConfig], seed: int, out: Path, progress: Progress
) -> RetrainStage:
    """Refit every base on the training period (early stopping on validation); predict val and test."""
    models, routing = {}, {}
    preds: dict[str, dict[str, pl.DataFrame]] = {s: {} for s in SPLITS}
    for b, cfg in configs.items():
        progress(f"ensemble: retrain {b} on the whole training period")
        md = final_model_data(data, cfg, oof.model_data[b], seed)
        model = models[b] = fit_final(md, cfg, seed)
        model.save(out / "bases" / b / "model")
        routing[b] = routing_record(cfg, md.feature_names, md.coverage)
        (out / "bases" / b / "routing.json").write_text(json.dumps(routing[b], indent=2))
        for split in SPLITS:
            idx = md.rows(split)
            preds[split][b] = probability_frame(
                md.timestamps[idx], model.predict_proba(md.dataset.x.subset(idx))
            )
    return RetrainStage(models, routing, preds)


@dataclass(frozen=True)
class SplitCandidates:
    """Every candidate's probabilities on the same stacked rows of one split."""

    matrix: StackedMatrix
    y: np.ndarray
    ret: np.ndarray
    proba: dict[str, np.ndarray]


@dataclass(frozen=True)
class GuardStage:
    scores: dict[str, float]  # validation log loss of each candidate
    kept: str
    forced: bool
    splits: dict[str, SplitCandidates]


def guard_stage(
    data: RunData,
    clock: DecisionClock,
    stack: StackStage,
    combiners: CombinerStage,
    retrain: RetrainStage,
    forced: str | None,
) -> GuardStage:
    """Score every candidate on validation (same rows for all); keep the best, or the forced one."""
    splits = {}
    for split in SPLITS:
        sc = clock.restrict(split)
        matrix = stack.stack(data, sc.ts, retrain.predictions[split])
        rows = matrix.rows_on_clock
        proba = {k: c.predict_proba(matrix.view) for k, c in combiners.candidates.items()}
        splits[split] = SplitCandidates(matrix, sc.y[rows], sc.ret[rows], proba)
    val = splits["val"]
    scores = {k: float(log_loss(val.y, p, labels=list(CLASSES))) for k, p in val.proba.items()}
    kept = forced if forced is not None else min(scores, key=scores.__getitem__)
    return GuardStage(scores, kept, forced is not None, splits)


def evaluation_stage(
    data: RunData,
    spec: EnsembleSpec,
    plan: CVPlan,
    oof: OofStage,
    stack: StackStage,
    combiners: CombinerStage,
    guard: GuardStage,
    out: Path,
    seed: int,
) -> MetricsRecord:
    """Metrics of the kept combiner on val and test, the guard's evidence, PBO; predictions written to ``out``."""
    record_candidate_trials(data, spec.ensemble_id, spec.horizon, guard)
    trials = run_trial_sharpes(data.run.root, exclude=data.run.ensemble_dir(spec.ensemble_id))
    freqs = plan.clock.class_priors()
    evaluations = {
        s: evaluate_split(
            data,
            spec.horizon,
            c.matrix.view.timestamps,
            c.proba[guard.kept],
            c.y,
            c.ret,
            freqs,
            other_trials=trials,
            trial_id=f"ensembles/{spec.ensemble_id}" if s == "test" else None,
            trial_kind="ensemble",
        )
        for s, c in guard.splits.items()
    }
    pbo = pbo_of_candidates(oof_candidate_pnl(data, plan, stack, combiners, spec.bases))
    record = MetricsRecord(
        kind="ensemble",
        model=spec.ensemble_id,
        ensemble=spec.ensemble_id,
        horizon=spec.horizon,
        family="ensemble",
        seed=seed,
        bases=list(spec.bases),
        meta_learner=spec.meta_learner,
        folds=len(plan.folds),
        oof_log_loss=oof.log_loss,
        oof_correlation=oof_correlation(oof.predictions),
        stack_coverage={"oof": stack.matrix.report} | {s: c.matrix.report for s, c in guard.splits.items()},
        guard=guard_record(spec.guard, combiners, guard),
        base_test_log_loss=base_log_loss(guard.splits["test"], spec.bases),
        classification={s: e.classification for s, e in evaluations.items()},
        trading={s: e.trading for s, e in evaluations.items()},
        signal={s: e.signal for s, e in evaluations.items()},
        overfitting=overfitting_block(evaluations["test"]) | {"pbo": pbo},
    )
    write_evaluations(out, evaluations)
    write_stack(out, stack)
    return record


def guard_record(enabled: bool, combiners: CombinerStage, guard: GuardStage) -> dict[str, Any]:
    """``metrics.guard``: each candidate's validation score, the best base, the average's weights, the kept one."""
    weights = combiners.candidates["weighted_average"].weights_  # type: ignore[attr-defined]
    best = next(b for b, w in combiners.candidates["best_base"].weights_.items() if w == 1.0)  # type: ignore[attr-defined]
    return {"metric": "log_loss (validation)", **guard.scores, "best_base_name": best, "weights": weights,
            "enabled": enabled, "forced": guard.forced, "kept": guard.kept}  # fmt: skip


def base_log_loss(split: SplitCandidates, bases: Sequence[str]) -> dict[str, float]:
    """Each base's log loss on the same stacked rows as the ensemble (a like-for-like comparison)."""
    view = split.matrix.view
    return {b: float(log_loss(split.y, block_probabilities(view, b), labels=list(CLASSES))) for b in bases}


def record_candidate_trials(data: RunData, ensemble_id: str, horizon: int, guard: GuardStage) -> None:
    """Every guard candidate is a configuration tried: each one the guard did not keep goes into the run's
    trial registry (per-decision returns net of costs on the test rows), the kept one as the ensemble."""
    test = guard.splits["test"]
    entry = decision_entry_prices(data, test.matrix.view.timestamps)
    for name, p in test.proba.items():
        if name != guard.kept:
            record_decision_trial(
                data.run.root, f"ensembles/{ensemble_id}/candidate-{name}", "ensemble_candidate", horizon,
                "test", p, test.ret, entry, data.instrument,
            )  # fmt: skip


def decision_entry_prices(data: RunData, ts: np.ndarray) -> np.ndarray:
    """Each decision's own close (the entry reference for costs as a return; never a whole-file average)."""
    bars = data.bars(data.decision_timeframe)
    return entry_prices(ts, bars["timestamp"].dt.epoch("ns").to_numpy(), bars["close"].to_numpy())


def oof_candidate_pnl(
    data: RunData, plan: CVPlan, stack: StackStage, combiners: CombinerStage, bases: Sequence[str]
) -> dict[str, np.ndarray]:
    """Per-decision net returns of each base and the weighted average on the OOF rows (the
    meta-learner is fitted on them, so it is not a fair candidate): the PBO's candidates."""
    rows = stack.matrix.rows_on_clock
    ret = plan.clock.ret[rows]
    entry = decision_entry_prices(data, plan.clock.ts[rows])
    probas = {b: block_probabilities(stack.matrix.view, b) for b in bases}
    probas["weighted_average"] = combiners.candidates["weighted_average"].predict_proba(stack.matrix.view)
    return {k: decision_net_returns(p, ret, entry, data.instrument) for k, p in probas.items()}


def write_stack(out: Path, stack: StackStage) -> None:
    view = stack.matrix.view
    frame = pl.DataFrame(view.x, schema=list(view.feature_names)).with_columns(
        pl.Series("timestamp", view.timestamps).cast(pl.Datetime("ns", "UTC")),
        pl.Series("label", stack.dataset.y.astype(np.int8)),
    )
    frame.select("timestamp", "label", *view.feature_names).write_parquet(out / "oof_stack.parquet")


def bundle_stage(
    out: Path,
    data: RunData,
    spec: EnsembleSpec,
    configs: Mapping[str, ModelConfig],
    stack: StackStage,
    combiners: CombinerStage,
    guard: GuardStage,
) -> None:
    """The kept combiner and ``ensemble.json``; the bases were saved by the retrain stage."""
    kept = combiners.candidates[guard.kept]
    kept.save(out / "combiner")
    bundle = BundleSpec(
        ensemble_id=spec.ensemble_id,
        horizon=spec.horizon,
        decision_timeframe=data.decision_timeframe,
        bases={
            b: BaseEntry(model=cfg.model, directory=f"bases/{b}/model", routing=f"bases/{b}/routing.json")
            for b, cfg in configs.items()
        },
        meta_learner=combiners.meta_learner,
        combiner=CombinerEntry(candidate=guard.kept, model=kept.name, directory="combiner"),  # type: ignore[arg-type]
        guard=GuardRecord(
            metric="log_loss (validation)", scores=guard.scores, kept=guard.kept, forced=guard.forced
        ),  # type: ignore[arg-type]
        stack_columns=list(stack.matrix.view.feature_names),
        priors=stack.priors.tolist(),
        coverage_policy=stack.policy,
        fallback=fallback_record(spec, combiners),
        meta_features=stack.meta_features,
        pipeline_config=data.manifest["config"],
        instrument=data.manifest["instrument"],
        conventions=run_conventions(data.manifest, data.run.manifest_path),
    )
    write_bundle_spec(out, bundle)
    state = data.run.root / "features" / "fitted_state.json"
    (out / FITTED_STATE_FILE).write_text(state.read_text() if state.is_file() else "{}")


def fallback_record(spec: EnsembleSpec, combiners: CombinerStage) -> FallbackRecord:
    """The fallback rule and the weighted_average candidate's inverse-OOF-loss weights and losses."""
    average = combiners.candidates["weighted_average"]
    return FallbackRecord(
        rule=spec.fallback,
        oof_log_loss=average.base_log_loss_,  # type: ignore[attr-defined]
        weights=average.weights_,  # type: ignore[attr-defined]
    )
