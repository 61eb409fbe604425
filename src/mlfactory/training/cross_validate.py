"""`mlfactory cv`: out-of-fold predictions for several models on the run's shared CV plan.

The plan is built once per call on the decision clock's training rows (purged and embargoed folds)
and stored as timestamp intervals in ``RUN/cv/<method>_k<K>_h<H>.json`` — every model gets exactly
the same folds, whatever its timeframe or input shape. With ``--tune N`` each model first runs N
Optuna trials on the plan (objective: purged-CV log loss) and the OOF predictions use the best
parameters, which are stored. The summary of each plan has its own file, so a second `cv` with
another method or fold count never overwrites the first one's.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from mlfactory.errors import ConfigError
from mlfactory.evaluation.trials import entry_prices, record_decision_trial
from mlfactory.models.base import PROBA_COLUMNS
from mlfactory.models.config import ModelConfig, apply_overrides
from mlfactory.run_data import RunData
from mlfactory.runtime.executor import Executor, make_executor
from mlfactory.selection.step import FeatureSelector
from mlfactory.training.configs import resolve_configs
from mlfactory.training.cv_plan import CVPlan
from mlfactory.training.model_data import build_model_data
from mlfactory.training.oof import generate_oof, oof_log_loss, write_oof
from mlfactory.training.tuning import tune_config, write_best_params

Progress = Callable[[str], None]


def run_cv(
    run: Path,
    models: Sequence[str],
    horizon: int,
    *,
    n_splits: int = 5,
    method: str = "purged",
    test_groups: int = 2,
    tune: int = 0,
    params: Sequence[str] = (),
    executor: str = "inprocess",
    workers: int = 1,
    ray_address: str | None = None,
    seed: int | None = None,
    progress: Progress = lambda msg: None,
) -> dict[str, Any]:
    if not models:
        raise ConfigError("--models: give at least one model name, e.g. --models lightgbm,logistic")
    data = RunData(run)
    seed = int(data.manifest.get("seed", 0) if seed is None else seed)
    plan = CVPlan.for_run(data, horizon, method=method, n_splits=n_splits, test_groups=test_groups)
    cv_dir = data.run.root / "cv"
    summary: dict[str, Any] = {
        "method": method,
        "n_splits": n_splits,
        "horizon": horizon,
        "folds_file": str(plan.write(cv_dir)),
        "models": {},
    }
    configs = resolve_configs(models, params)
    with make_executor(executor, workers, ray_address=ray_address) as ex:
        for name, cfg in configs.items():
            summary["models"][name] = cv_one_model(data, cfg, plan, ex, seed, tune, progress)
    (cv_dir / f"summary_{plan.name}.json").write_text(json.dumps(summary, indent=2, sort_keys=True))
    return summary


def cv_one_model(
    data: RunData, cfg: ModelConfig, plan: CVPlan, ex: Executor, seed: int, tune: int, progress: Progress
) -> dict[str, Any]:
    """Tune (optionally) and run OOF for one model on ``plan``; write its OOF; return its summary entry."""
    md = build_model_data(data, cfg, data.clock(plan.clock.horizon))
    dataset = md.dataset.subset(md.rows("train"))
    out = data.run.model_dir(cfg.model, plan.clock.horizon)
    entry: dict[str, Any] = {}
    if tune:
        progress(f"cv: tune {cfg.model} ({tune} trials, {plan.method}, k={plan.n_splits})")
        result = tune_config(
            cfg, dataset, plan, ex, n_trials=tune, seed=seed, on_trial=tuning_trial_recorder(data, plan, out)
        )
        write_best_params(result, out)
        cfg = apply_overrides(cfg, [f"{k}={json.dumps(v)}" for k, v in result.best_params.items()])
        entry["tuned"] = {
            "trials": tune,
            "best_log_loss": result.best_value,
            "best_params": result.best_params,
        }
    progress(
        f"cv: {cfg.model} OOF on {len(plan.folds)} folds ({md.coverage['by_split']['train']:,} training rows)"
    )
    selector = FeatureSelector.for_model(cfg.model, cfg.model_cls.family, seed)
    oof = generate_oof(cfg.model_cls, cfg.params, dataset, plan, ex, seed, selector=selector)
    write_oof(oof, out)
    loss, prior = oof_log_loss(oof.frame, plan.clock)
    return entry | {
        "oof_log_loss": loss,
        "prior_log_loss": prior,
        "coverage": oof.coverage.fraction,
        "folds": len(plan.folds),
    }


def tuning_trial_recorder(
    data: RunData, plan: CVPlan, model_dir: Path
) -> Callable[[int, pl.DataFrame], None]:
    """Record every tuning trial's OOF predictions in the run's trial registry (per-decision returns
    net of costs): each trial is a configuration tried, and the deflated Sharpe counts it."""
    bars = data.bars(data.decision_timeframe)
    bar_ts, close = bars["timestamp"].dt.epoch("ns").to_numpy(), bars["close"].to_numpy()
    trial_dir = f"{model_dir.parent.name}/{model_dir.name}"

    def record(number: int, oof: pl.DataFrame) -> None:
        frame = oof.group_by("timestamp").agg(pl.col(list(PROBA_COLUMNS)).mean()).sort("timestamp")
        ts = frame["timestamp"].dt.epoch("ns").to_numpy()
        rows = plan.clock.rows_of(ts)
        record_decision_trial(
            data.run.root, f"{trial_dir}/trial-{number}", "tuning", plan.clock.horizon, "oof",
            frame.select(PROBA_COLUMNS).to_numpy(), plan.clock.ret[rows], entry_prices(ts, bar_ts, close),
            data.instrument,
        )  # fmt: skip

    return record
