"""`mlfactory grid`: OOF for every (model, horizon) on the shared folds, as resumable jobs on any executor.

0. With ``tune`` N: per (model, horizon) N Optuna trials on the executor (``training.tuning.tune_parallel``,
   a journal-file study in ``RUN/tuning/``, median pruning); the best params enter the model's config.
1. Plan: per horizon the purged folds of the decision clock's training rows (written to
   ``RUN/cv/purged_k<K>_h<H>.json``, as ``cv`` does); per (model, horizon) the model's dataset and
   one job per fold (``training.oof.plan_fold_jobs``). Each job gets a content key
   (``runtime.jobs``): the sha256 of the files it reads, its resolved config, its rows, seed and
   package version.
2. Run the jobs whose key has no complete result in ``RUN/jobs/`` (all with ``force``) on the
   executor; the datasets are shipped to the workers once. Each job writes its own predictions and
   record (wall time, peak memory, node) from inside the worker.
3. Assemble each (model, horizon) from its jobs' results into ``RUN/models/<name>_h<H>/oof.parquet``
   and ``oof_coverage.json`` — the same files ``cv`` writes, identical whichever executor ran them.
4. Optionally train ensemble recipes per horizon (their bases' OOF folds on the same executor;
   skipped when their key is unchanged), then build
   the leaderboard; ``RUN/grid/summary.json`` records every job, the totals and the leaderboard.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from mlfactory.errors import ConfigError, DataError
from mlfactory.models.base import PROBA_COLUMNS, Dataset, Family, InputKind
from mlfactory.models.config import ModelConfig
from mlfactory.run_data import RunData
from mlfactory.runtime.executor import Executor, make_executor
from mlfactory.runtime.jobs import JobStore, array_digest, job_key
from mlfactory.runtime.resources import JobResources, PeakMemory, current_node, job_resources
from mlfactory.selection.step import FeatureSelector
from mlfactory.training.configs import resolve_configs
from mlfactory.training.cv_plan import CVPlan
from mlfactory.training.grid_stages import (
    FileHashes,
    Tuner,
    grid_leaderboard,
    job_totals,
    run_recipes,
)
from mlfactory.training.model_data import build_model_data
from mlfactory.training.oof import (
    FoldJob,
    FoldResult,
    OofCoverage,
    OofResult,
    oof_frame,
    oof_log_loss,
    plan_fold_jobs,
    write_oof,
)

METHOD = "purged"
NOT_BASES = frozenset({Family.META, Family.ENSEMBLE})


@dataclass(frozen=True)
class GridJob:
    """One (model, horizon, fold) job: the fold's rows, its content key and what it may use."""

    key: str
    model: str
    horizon: int
    fold_id: int
    dataset_key: str
    fold: FoldJob
    run_root: str
    resources: JobResources


@dataclass
class GridTarget:
    """One (model, horizon): its dataset, jobs and coverage, and where its OOF goes."""

    model: str
    horizon: int
    dataset: Dataset
    plan: CVPlan
    coverage: OofCoverage
    out_dir: Path
    jobs: list[GridJob] = field(default_factory=list)


@dataclass(frozen=True)
class GridProgress:
    done: int
    running: int
    total: int
    cached: int


def base_model_names() -> list[str]:
    """Every registered base model (meta-learners and combiners excluded) — ``--models all``."""
    from mlfactory.models.registry import all_models

    return [n for n, cls in all_models().items() if cls.family not in NOT_BASES]


def parse_models(spec: str) -> list[str]:
    from mlfactory.models.registry import get_model_class

    names = base_model_names() if spec.strip() == "all" else [m.strip() for m in spec.split(",") if m.strip()]
    if not names:
        raise ConfigError("--models: give model names (e.g. lightgbm,logistic,tcn) or 'all'")
    for n in names:
        if get_model_class(n).family in NOT_BASES:
            raise ConfigError(
                f"--models {n!r}: a meta-learner/combiner, not a base model; use it in an ensemble recipe"
            )
    return list(dict.fromkeys(names))


def input_files(data: RunData, cfg: ModelConfig, horizon: int) -> list[Path]:
    """The run files ``build_model_data`` reads for this model and horizon (their hashes enter the key)."""
    run, kind = data.run, cfg.model_cls.input_kind
    files = [run.labels_path(horizon), run.splits_path]
    if kind == InputKind.TABULAR:
        files.append(run.features_path(cfg.timeframe))
    elif kind == InputKind.SEQUENCE:
        files.append(run.bars_path(cfg.timeframe))
        if cfg.feature_set != "raw_ohlcv":
            files.append(run.features_path(cfg.timeframe))
    else:
        files += [run.bars_path(tf) for tf in (cfg.timeframe, *cfg.mtf_timeframes)]
    return files


def write_text_atomic(path: Path, text: str) -> None:
    """Temporary file, then rename: a reader sees the old file or the new one, never a partial one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def config_record(cfg: ModelConfig) -> dict[str, Any]:
    return {
        "model": cfg.model,
        "timeframe": cfg.timeframe,
        "mtf_strategy": cfg.mtf_strategy.value,
        "mtf_timeframes": list(cfg.mtf_timeframes),
        "feature_set": cfg.feature_set,
        "params": cfg.params.model_dump(mode="json"),
    }


def plan_grid(
    data: RunData,
    models: Sequence[str],
    horizons: Sequence[int],
    *,
    n_splits: int,
    seed: int,
    params: Sequence[str] = (),
    tuner: Callable[..., ModelConfig] | None = None,
) -> list[GridTarget]:
    """Folds per horizon (written to ``RUN/cv``), datasets and keyed jobs per (model, horizon).

    ``tuner(cfg, dataset, plan, horizon)`` (see ``Tuner``) may replace a model's config by
    its tuned one before the jobs are keyed.
    """
    hashes = FileHashes(data.run.root)
    configs = resolve_configs(models, params)
    targets = []
    for h in horizons:
        plan = CVPlan.for_run(data, h, method=METHOD, n_splits=n_splits)
        plan.write(data.run.root / "cv")
        for name, cfg in configs.items():
            md = build_model_data(data, cfg, data.clock(h))
            dataset = md.dataset.subset(md.rows("train"))
            if tuner is not None:
                cfg = tuner(cfg, dataset, plan, h)
            selector = FeatureSelector.for_model(name, cfg.model_cls.family, seed)
            fold_jobs, coverage = plan_fold_jobs(
                cfg.model_cls, cfg.params, dataset, plan, seed, n_jobs=1, selector=selector
            )
            if not fold_jobs:
                raise DataError(
                    f"model {name!r} (h{h}) has too few training rows in every fold; drop it from --models "
                    "or use more data / a timeframe with a shorter warm-up"
                )
            target = GridTarget(name, h, dataset, plan, coverage, data.run.model_dir(name, h))
            common = {
                "kind": "oof-fold",
                "model": name,
                "horizon": h,
                "config": config_record(cfg),
                "inputs": hashes(input_files(data, cfg, h)),
                "seed": seed,
                "method": METHOD,
                "n_splits": n_splits,
                "inner_val_frac": plan.inner_val_frac,
                "embargo_ns": plan.embargo_ns,
                "selector": None if selector is None else selector.__dict__,
            }
            res = job_resources(cfg.model_cls.family.value, _nbytes(dataset))
            for fj in fold_jobs:
                rows = array_digest(dataset.timestamps[fj.train_rows], fj.val_rows, fj.test_rows)
                key = job_key({**common, "fold": fj.fold_id, "rows": rows})
                target.jobs.append(
                    GridJob(key, name, h, fj.fold_id, f"{name}_h{h}", fj, str(data.run.root), res)
                )
            targets.append(target)
    return targets


def _nbytes(obj: Any, depth: int = 0) -> int:
    """Bytes of the numpy arrays held by a dataset (its view, streams, labels, weights)."""
    if isinstance(obj, np.ndarray):
        return int(obj.nbytes)
    if depth > 3:
        return 0
    if isinstance(obj, list | tuple):
        return sum(_nbytes(o, depth + 1) for o in obj)
    if hasattr(obj, "__dict__"):
        return sum(_nbytes(o, depth + 1) for o in vars(obj).values())
    return 0


def run_grid_job(datasets: dict[str, Dataset], job: GridJob) -> dict[str, Any]:
    """Fit one fold and write its predictions and record into ``RUN/jobs/<key>/`` (inside the worker)."""
    from mlfactory.training.oof import fit_predict_fold

    t0 = time.time()
    with PeakMemory() as mem:
        result = fit_predict_fold(datasets[job.dataset_key], job.fold)
    preds = pl.DataFrame(
        {
            "row": result.test_rows.astype(np.int64),
            **{c: result.proba[:, j] for j, c in enumerate(PROBA_COLUMNS)},
        },
        schema={"row": pl.Int64, **dict.fromkeys(PROBA_COLUMNS, pl.Float64)},
    )
    record = {
        "model": job.model,
        "horizon": job.horizon,
        "fold": job.fold_id,
        "started": t0,
        "wall_seconds": round(mem.seconds, 4),
        "peak_rss_bytes": int(mem.peak_rss),
        "start_rss_bytes": int(mem.start_rss),
        "node": current_node(),
        "n_train": int(job.fold.train_rows.size),
        "n_test": int(job.fold.test_rows.size),
        "resources": job.resources.ray_options(),
    }
    JobStore(Path(job.run_root)).write(job.key, preds, record)
    return {**record, "key": job.key}


def execute_jobs(
    targets: Sequence[GridTarget],
    store: JobStore,
    executor: Executor,
    *,
    force: bool = False,
    on_progress: Callable[[GridProgress], None] = lambda p: None,
) -> tuple[list[dict[str, Any]], int]:
    """Run the jobs without a complete result; return the new records and how many were cached."""
    store.clean_temporaries()
    jobs = [j for t in targets for j in t.jobs]
    todo = [j for j in jobs if force or not store.is_complete(j.key)]
    cached = len(jobs) - len(todo)
    capacity = max(1, int(getattr(executor, "cluster_cpus", executor.workers)))
    todo_keys = {j.key for j in todo}
    datasets = {  # only the datasets some remaining job needs travel to the workers
        f"{t.model}_h{t.horizon}": t.dataset for t in targets if any(j.key in todo_keys for j in t.jobs)
    }
    records: list[dict[str, Any]] = []
    on_progress(GridProgress(cached, min(capacity, len(todo)), len(jobs), cached))
    if todo:
        for _, record in executor.as_completed(run_grid_job, todo, shared=datasets):
            records.append(record)
            left = len(todo) - len(records)
            on_progress(GridProgress(cached + len(records), min(capacity, left), len(jobs), cached))
    return records, cached


def assemble_oof(target: GridTarget, store: JobStore) -> OofResult:
    """The (model, horizon)'s OOF frame from its jobs' stored predictions, written where `cv` writes it."""
    results = []
    for job in target.jobs:
        preds = store.read(job.key).predictions
        proba = preds.select(PROBA_COLUMNS).to_numpy()
        results.append(FoldResult(job.fold_id, preds["row"].to_numpy(), proba))
    oof = OofResult(
        oof_frame(results, target.dataset.timestamps), target.coverage, [j.fold for j in target.jobs]
    )
    write_oof(oof, target.out_dir)
    return oof


def run_grid(
    run: Path,
    models: Sequence[str],
    horizons: Sequence[int],
    *,
    ensembles: Sequence[str] = (),
    n_splits: int = 5,
    params: Sequence[str] = (),
    executor: str = "inprocess",
    workers: int = 1,
    ray_address: str | None = None,
    force: bool = False,
    seed: int | None = None,
    tune: int = 0,
    tune_batch: int = 4,
    on_progress: Callable[[GridProgress], None] = lambda p: None,
    progress: Callable[[str], None] = lambda m: None,
) -> dict[str, Any]:
    """The whole grid; returns (and writes to ``RUN/grid/summary.json``) the summary with the leaderboard."""
    t0 = time.perf_counter()
    if not horizons:
        raise ConfigError("--horizons: give at least one horizon, e.g. --horizons 5,10")
    data = RunData(run)
    missing = sorted(set(horizons) - set(data.horizons))
    if missing:
        raise ConfigError(
            f"--horizons {missing}: not in the run (it has {data.horizons}); rerun `pipeline run` with them"
        )
    seed = int(data.manifest.get("seed", 0) if seed is None else seed)
    progress(f"grid: planning {len(models)} model(s) × {len(horizons)} horizon(s) × {n_splits} folds")
    store = JobStore(data.run.root)
    models_summary: dict[str, Any] = {}
    with make_executor(executor, workers, ray_address=ray_address) as ex:
        tuner = Tuner(data, ex, tune, seed, tune_batch) if tune else None
        if tuner is not None:
            progress(
                f"grid: tuning each model with {tune} Optuna trials ({tune_batch} at a time) on the executor"
            )
        targets = plan_grid(data, models, horizons, n_splits=n_splits, seed=seed, params=params, tuner=tuner)
        records, cached = execute_jobs(targets, store, ex, force=force, on_progress=on_progress)
        for t in targets:
            oof = assemble_oof(t, store)
            loss, prior = oof_log_loss(oof.frame, t.plan.clock)
            models_summary[f"{t.model}_h{t.horizon}"] = {
                "model": t.model, "horizon": t.horizon, "oof_log_loss": loss, "prior_log_loss": prior,
                "coverage": oof.coverage.fraction, "folds": len(t.jobs), "directory": str(t.out_dir),
            }  # fmt: skip
        ens_summary = (
            run_recipes(
                data,
                ensembles,
                horizons,
                seed=seed,
                force=force,
                progress=progress,
                executor=executor,
                workers=workers,
            )
            if ensembles
            else {}
        )
    all_records = [store.record(j.key) for t in targets for j in t.jobs]
    summary = {
        "run": str(data.run.root),
        "executor": {"kind": executor, "workers": workers, "ray_address": ray_address},
        "seed": seed,
        "n_splits": n_splits,
        "method": METHOD,
        "jobs": job_totals(all_records, computed=len(records), cached=cached),
        "models": models_summary,
        "ensembles": ens_summary,
        "tuning": {} if tuner is None else tuner.summary,
        "leaderboard": grid_leaderboard(data.run.root, models_summary, bool(ensembles)),
        "wall_seconds": round(time.perf_counter() - t0, 3),
    }
    doc = {**summary, "job_records": all_records}
    write_text_atomic(
        data.run.root / "grid" / "summary.json", json.dumps(doc, indent=2, sort_keys=True, default=str)
    )
    return summary
