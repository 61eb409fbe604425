"""Hyper-parameter tuning: Optuna TPE over a model's search space, scored by purged-CV log loss.

Each trial samples the dimensions of the search space (the model's in-code ``search_space``,
entries overridden by ``search_space:`` in its YAML — see ``mlfactory.models.config``) on top of the
base params, runs ``generate_oof`` on the shared folds (strictly nested: early stopping on inner
purged slices only) and scores the out-of-fold predictions by their multi-class log loss. The
sampler is seeded and trials run one after another, so a seed reproduces the whole study; the
folds of one trial run in parallel through the executor.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from mlfactory.errors import ConfigError
from mlfactory.models.base import CLASSES, PROBA_COLUMNS, Dataset, Model, ModelParams
from mlfactory.models.config import CategoricalDim, FloatDim, IntDim, ModelConfig, validate_params
from mlfactory.runtime.executor import Executor
from mlfactory.training.cv_plan import CVPlan
from mlfactory.training.oof import generate_oof

BEST_PARAMS_FILE = "best_params.json"


@dataclass(frozen=True)
class TuningResult:
    model: str
    best_params: dict[str, Any]  # the full validated parameter set of the best trial
    best_value: float  # its purged-CV log loss
    trials: pl.DataFrame  # number, log_loss, one column per tuned parameter
    seed: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "best_params": self.best_params,
            "best_value": self.best_value,
            "n_trials": self.trials.height,
            "seed": self.seed,
            "objective": "purged-CV log loss",
        }


def cv_log_loss(frame: pl.DataFrame, dataset: Dataset) -> float:
    """Multi-class log loss of OOF rows against the dataset's labels (matched by timestamp), sample-weighted."""
    ts = frame["timestamp"].dt.epoch("ns").to_numpy()
    rows = np.searchsorted(dataset.timestamps, ts)
    y = np.asarray(dataset.y)[rows]
    p = frame.select(PROBA_COLUMNS).to_numpy()
    p_true = np.clip(p[np.arange(len(y)), np.searchsorted(CLASSES, y)], 1e-15, 1.0)
    w = np.ones(len(y)) if dataset.sample_weight is None else np.asarray(dataset.sample_weight)[rows]
    return float(-(w * np.log(p_true)).sum() / w.sum())


def suggest(trial: Any, name: str, dim: FloatDim | IntDim | CategoricalDim) -> Any:
    """Sample one value of ``dim`` from an Optuna trial."""
    if isinstance(dim, FloatDim):
        return trial.suggest_float(name, dim.low, dim.high, log=dim.log)
    if isinstance(dim, IntDim):
        return trial.suggest_int(name, dim.low, dim.high, step=dim.step, log=dim.log)
    return trial.suggest_categorical(name, list(dim.choices))


def tune(
    model_cls: type[Model],
    base_params: ModelParams | Mapping[str, Any],
    dataset: Dataset,
    plan: CVPlan,
    executor: Executor,
    *,
    n_trials: int,
    seed: int,
    search_space: Mapping[str, FloatDim | IntDim | CategoricalDim] | None = None,
    n_jobs: int = 1,
    on_trial: Callable[[int, pl.DataFrame], None] | None = None,
) -> TuningResult:
    """Run ``n_trials`` TPE trials (``TPESampler(seed)``) minimising the purged-CV log loss; return the best params.

    ``search_space`` defaults to ``model_cls.search_space``; pass ``ModelConfig.search_space`` to
    include YAML overrides (``tune_config`` does).
    """
    import optuna

    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        raise ConfigError(f"n_trials: expected a positive integer, got {n_trials!r}")
    space = dict(getattr(model_cls, "search_space", {}) if search_space is None else search_space)
    if not space:
        raise ConfigError(
            f"search_space: model {model_cls.name!r} has none; add `search_space:` to configs/models/{model_cls.name}.yaml"
        )
    base = base_params.model_dump() if isinstance(base_params, ModelParams) else dict(base_params)
    unknown = sorted(set(space) - set(model_cls.Params.model_fields))
    if unknown:
        raise ConfigError(f"search_space: {unknown} are not parameters of model {model_cls.name!r}")

    def objective(trial: optuna.Trial) -> float:
        values = {**base, **{name: suggest(trial, name, dim) for name, dim in space.items()}}
        params = validate_params(model_cls, values, f"tuning trial {trial.number}")
        result = generate_oof(model_cls, params, dataset, plan, executor, seed, n_jobs=n_jobs)
        if on_trial is not None:  # e.g. record the trial for the run's deflated Sharpe
            on_trial(trial.number, result.frame)
        return cv_log_loss(result.frame, dataset)

    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
        study.optimize(objective, n_trials=n_trials, n_jobs=1)
    finally:
        optuna.logging.set_verbosity(previous)
    best = validate_params(model_cls, {**base, **study.best_params}, "best trial").model_dump()
    trials = pl.DataFrame(
        [{"number": t.number, "log_loss": t.value, **t.params} for t in study.trials],
        schema_overrides={"number": pl.Int64, "log_loss": pl.Float64},
        strict=False,
    )
    return TuningResult(model_cls.name, best, float(study.best_value), trials, int(seed))


def tune_config(
    config: ModelConfig,
    dataset: Dataset,
    plan: CVPlan,
    executor: Executor,
    *,
    n_trials: int,
    seed: int,
    n_jobs: int = 1,
    on_trial: Callable[[int, pl.DataFrame], None] | None = None,
) -> TuningResult:
    """``tune`` with a model config's params as the base and its (YAML-merged) search space."""
    return tune(
        config.model_cls, config.params, dataset, plan, executor,
        n_trials=n_trials, seed=seed, search_space=config.search_space, n_jobs=n_jobs, on_trial=on_trial,
    )  # fmt: skip


def write_best_params(result: TuningResult, directory: Path) -> Path:
    """Write ``best_params.json`` (params, objective value, trial count, seed) into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / BEST_PARAMS_FILE
    path.write_text(json.dumps(result.to_dict(), indent=2, sort_keys=True))
    return path


# --- parallel trials on an executor, with shared storage and pruning -------------------------------


@dataclass(frozen=True)
class TrialJob:
    """One Optuna trial as an executor job: its folds (planned with the trial's params) and the storage."""

    number: int
    trial_id: int
    storage: str  # journal file of the study, reachable from every worker
    study_name: str
    fold_jobs: list[Any]  # FoldJob


def journal_storage(path: Path) -> Any:
    """Optuna storage in one journal file (file locks make it safe for concurrent workers)."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(path)))


def run_trial(dataset: Dataset, job: TrialJob) -> float | None:
    """Fit the trial's folds one by one, reporting the running CV log loss; None when pruned."""
    import optuna

    from mlfactory.training.oof import fit_predict_fold, oof_frame

    study = optuna.load_study(study_name=job.study_name, storage=journal_storage(Path(job.storage)))
    trial = optuna.trial.Trial(study, job.trial_id)
    results, loss = [], float("nan")
    for step, fold_job in enumerate(job.fold_jobs):
        results.append(fit_predict_fold(dataset, fold_job))
        loss = cv_log_loss(oof_frame(results, dataset.timestamps), dataset)
        trial.report(loss, step)
        if trial.should_prune():
            return None
    return loss


def tune_parallel(
    model_cls: type[Model],
    base_params: ModelParams | Mapping[str, Any],
    dataset: Dataset,
    plan: CVPlan,
    executor: Executor,
    *,
    n_trials: int,
    seed: int,
    storage: Path,
    batch: int = 4,
    search_space: Mapping[str, FloatDim | IntDim | CategoricalDim] | None = None,
    n_startup_trials: int = 4,
) -> TuningResult:
    """``tune`` with ``batch`` trials at a time on the executor, a journal-file study and median pruning.

    Trials are asked in batches of ``batch`` (seeded TPE) and run as executor jobs; a trial reports
    its running purged-CV log loss after each fold and stops when ``MedianPruner`` (which looks only
    at trials completed in earlier batches) judges it hopeless. For a given ``batch`` the study is the
    same whichever executor runs it. The study lives in ``storage`` (e.g. ``RUN/tuning/<model>_h<H>.journal``):
    a re-run continues it — finished trials count towards ``n_trials``; trials left running by a
    killed run are marked failed. ``TuningResult.trials`` lists every finished trial (with its state),
    the count to charge to the run's deflated Sharpe.
    """
    import optuna
    from optuna.trial import TrialState

    from mlfactory.training.oof import plan_fold_jobs

    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        raise ConfigError(f"n_trials: expected a positive integer, got {n_trials!r}")
    if batch < 1:
        raise ConfigError(f"batch: {batch} is invalid; give the number of trials to run at once (≥ 1)")
    space = dict(getattr(model_cls, "search_space", {}) if search_space is None else search_space)
    if not space:
        raise ConfigError(
            f"search_space: model {model_cls.name!r} has none; add `search_space:` to configs/models/{model_cls.name}.yaml"
        )
    base = base_params.model_dump() if isinstance(base_params, ModelParams) else dict(base_params)
    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.create_study(
            study_name=model_cls.name, storage=journal_storage(storage), load_if_exists=True,
            direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed),
            pruner=optuna.pruners.MedianPruner(n_startup_trials=n_startup_trials, n_warmup_steps=1),
        )  # fmt: skip
        for stale in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            study.tell(stale.number, state=TrialState.FAIL)  # left running by a killed run
        done = (TrialState.COMPLETE, TrialState.PRUNED)
        while (left := n_trials - len(study.get_trials(deepcopy=False, states=done))) > 0:
            trials = [study.ask() for _ in range(min(batch, left))]
            jobs = []
            for trial in trials:
                values = {**base, **{name: suggest(trial, name, dim) for name, dim in space.items()}}
                params = validate_params(model_cls, values, f"tuning trial {trial.number}")
                fold_jobs, _ = plan_fold_jobs(model_cls, params, dataset, plan, seed)
                jobs.append(
                    TrialJob(trial.number, trial._trial_id, str(storage), study.study_name, fold_jobs)
                )
            for trial, value in zip(trials, executor.map(run_trial, jobs, shared=dataset), strict=True):
                if value is None:
                    study.tell(trial, state=TrialState.PRUNED)
                else:
                    study.tell(trial, value)
    finally:
        optuna.logging.set_verbosity(previous)
    finished = study.get_trials(deepcopy=False, states=done)
    best = validate_params(model_cls, {**base, **study.best_params}, "best trial").model_dump()
    trials_frame = pl.DataFrame(
        [{"number": t.number, "state": t.state.name, "log_loss": t.value, **t.params} for t in finished],
        schema_overrides={"number": pl.Int64, "log_loss": pl.Float64},
        strict=False,
    )
    return TuningResult(model_cls.name, best, float(study.best_value), trials_frame, int(seed))
