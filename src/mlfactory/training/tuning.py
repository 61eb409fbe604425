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
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
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

    check_tuning_counts(n_trials, 1)
    space = search_space_of(model_cls, search_space)
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

    with quiet_optuna():
        study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
        study.optimize(objective, n_trials=n_trials, n_jobs=1)
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


@dataclass(frozen=True)
class TrialOutcome:
    """What a trial job sends back: its CV log loss and OOF frame, or ``None`` for both when pruned."""

    loss: float | None
    oof: pl.DataFrame | None


@dataclass(frozen=True)
class SearchSetup:
    """What every trial of a study shares: the model, its base params and search space, the data and folds."""

    model_cls: type[Model]
    base: dict[str, Any]
    space: dict[str, FloatDim | IntDim | CategoricalDim]
    dataset: Dataset
    plan: CVPlan
    seed: int

    def trial_job(self, trial: Any, storage: Path) -> TrialJob:
        """Sample the trial's params on top of the base ones and plan its folds."""
        from mlfactory.training.oof import plan_fold_jobs

        values = {**self.base, **{name: suggest(trial, name, dim) for name, dim in self.space.items()}}
        params = validate_params(self.model_cls, values, f"tuning trial {trial.number}")
        fold_jobs, _ = plan_fold_jobs(self.model_cls, params, self.dataset, self.plan, self.seed)
        return TrialJob(trial.number, trial._trial_id, str(storage), trial.study.study_name, fold_jobs)


def journal_storage(path: Path) -> Any:
    """Optuna storage in one journal file (file locks make it safe for concurrent workers)."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(path)))


def run_trial(dataset: Dataset, job: TrialJob) -> TrialOutcome:
    """Fit the trial's folds one by one, reporting the running CV log loss; stops early when pruned."""
    import optuna

    from mlfactory.training.oof import fit_predict_fold, oof_frame

    study = optuna.load_study(study_name=job.study_name, storage=journal_storage(Path(job.storage)))
    trial = optuna.trial.Trial(study, job.trial_id)
    results, loss, frame = [], float("nan"), None
    for step, fold_job in enumerate(job.fold_jobs):
        results.append(fit_predict_fold(dataset, fold_job))
        frame = oof_frame(results, dataset.timestamps)
        loss = cv_log_loss(frame, dataset)
        trial.report(loss, step)
        if trial.should_prune():
            return TrialOutcome(None, None)
    return TrialOutcome(loss, frame)


def check_tuning_counts(n_trials: int, batch: int) -> None:
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        raise ConfigError(f"n_trials: expected a positive integer, got {n_trials!r}")
    if batch < 1:
        raise ConfigError(f"batch: {batch} is invalid; give the number of trials to run at once (≥ 1)")


def search_space_of(
    model_cls: type[Model], search_space: Mapping[str, FloatDim | IntDim | CategoricalDim] | None
) -> dict[str, FloatDim | IntDim | CategoricalDim]:
    """The given search space, else the model's own; a model without one is a config error."""
    space = dict(getattr(model_cls, "search_space", {}) if search_space is None else search_space)
    if not space:
        raise ConfigError(
            f"search_space: model {model_cls.name!r} has none; add `search_space:` to configs/models/{model_cls.name}.yaml"
        )
    return space


@contextmanager
def quiet_optuna() -> Iterator[None]:
    """Optuna's per-trial INFO lines off for the duration (they would flood stderr)."""
    import optuna

    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(previous)


def open_study(name: str, storage: Path, seed: int, n_startup_trials: int) -> Any:
    """The journal-file study (created or continued), seeded TPE, median pruning; stale trials failed."""
    import optuna
    from optuna.trial import TrialState

    study = optuna.create_study(
        study_name=name, storage=journal_storage(storage), load_if_exists=True,
        direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=n_startup_trials, n_warmup_steps=1),
    )  # fmt: skip
    for stale in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study.tell(stale.number, state=TrialState.FAIL)  # left running by a killed run
    return study


def finished_trials(study: Any) -> list[Any]:
    from optuna.trial import TrialState

    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))


def run_trial_batch(
    study: Any,
    setup: SearchSetup,
    executor: Executor,
    size: int,
    storage: Path,
    on_trial: Callable[[int, pl.DataFrame], None] | None,
) -> None:
    """Ask ``size`` trials, run them on the executor and tell their outcomes once all are back.

    ``on_trial(number, oof)`` runs here, in the calling process, as each completed trial's result
    arrives (never inside a worker), before the study hears of it: every trial the study counts
    as complete has been recorded exactly once. Telling waits for the whole batch, in trial order,
    so the pruner of a batch only sees earlier batches whichever executor runs it.
    """
    from optuna.trial import TrialState

    trials = [study.ask() for _ in range(size)]
    jobs = [setup.trial_job(t, storage) for t in trials]
    outcomes: list[TrialOutcome | None] = [None] * len(jobs)
    for i, outcome in executor.as_completed(run_trial, jobs, shared=setup.dataset):
        outcomes[i] = outcome
        if outcome.oof is not None and on_trial is not None:
            on_trial(trials[i].number, outcome.oof)
    for trial, outcome in zip(trials, outcomes, strict=True):
        if outcome is None or outcome.loss is None:
            study.tell(trial, state=TrialState.PRUNED)
        else:
            study.tell(trial, outcome.loss)


def tuning_result(study: Any, setup: SearchSetup) -> TuningResult:
    """The best params (validated on top of the base ones) and every finished trial with its state."""
    best = validate_params(setup.model_cls, {**setup.base, **study.best_params}, "best trial").model_dump()
    trials_frame = pl.DataFrame(
        [
            {"number": t.number, "state": t.state.name, "log_loss": t.value, **t.params}
            for t in finished_trials(study)
        ],
        schema_overrides={"number": pl.Int64, "log_loss": pl.Float64},
        strict=False,
    )
    return TuningResult(setup.model_cls.name, best, float(study.best_value), trials_frame, int(setup.seed))


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
    on_trial: Callable[[int, pl.DataFrame], None] | None = None,
) -> TuningResult:
    """``tune`` with ``batch`` trials at a time on the executor, a journal-file study and median pruning.

    Trials are asked in batches of ``batch`` (seeded TPE) and run as executor jobs; a trial reports
    its running purged-CV log loss after each fold and stops when ``MedianPruner`` (which looks only
    at trials completed in earlier batches) judges it hopeless. For a given ``batch`` the study is the
    same whichever executor runs it. The study lives in ``storage`` (e.g. ``RUN/tuning/<model>_h<H>.journal``):
    a re-run continues it — finished trials count towards ``n_trials``; trials left running by a
    killed run are marked failed. ``TuningResult.trials`` lists every finished trial (with its state),
    the count to charge to the run's deflated Sharpe. ``on_trial(number, oof_frame)`` is called in
    this process once per completed trial (pruned ones have no full OOF), e.g. to record it in the
    run's trial registry (``training.cross_validate.tuning_trial_recorder``).
    """
    check_tuning_counts(n_trials, batch)
    base = base_params.model_dump() if isinstance(base_params, ModelParams) else dict(base_params)
    setup = SearchSetup(model_cls, base, search_space_of(model_cls, search_space), dataset, plan, seed)
    with quiet_optuna():
        study = open_study(model_cls.name, storage, seed, n_startup_trials)
        while (left := n_trials - len(finished_trials(study))) > 0:
            run_trial_batch(study, setup, executor, min(batch, left), storage, on_trial)
    return tuning_result(study, setup)
