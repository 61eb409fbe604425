"""`mlfactory grid`: OOF for every (model, horizon) on the shared folds, as resumable jobs on any executor.

0. With ``tune`` N: per (model, horizon) N Optuna trials on the executor (``training.tuning.tune_parallel``,
   a journal-file study in ``RUN/tuning/``, median pruning); the best params enter the model's config.
   Every completed trial is recorded from the driver in ``RUN/trials.jsonl`` (``<model dir>/trial-<k>``,
   its OOF returns net of costs), so the run's deflated Sharpe counts it.
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
4. Optionally train ensemble recipes per horizon, skipped when their key is unchanged. Their bases'
   OOF folds are keyed like the grid's own (``training.grid_jobs.OofJobs``): a base whose jobs the
   grid has just computed (same config and routing, plan, seed, data) is read back from
   ``RUN/jobs/``, any other is computed on the same executor. Then build the leaderboard; ``RUN/grid/summary.json`` records every job, the totals and the leaderboard.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mlfactory.errors import ConfigError
from mlfactory.models.base import Family
from mlfactory.models.config import ModelConfig
from mlfactory.run_data import RunData
from mlfactory.runtime.executor import Executor, make_executor
from mlfactory.runtime.jobs import JobStore
from mlfactory.training.configs import resolve_configs
from mlfactory.training.cv_plan import CVPlan
from mlfactory.training.grid_jobs import (
    FileHashes,
    GridProgress,
    GridTarget,
    OofJobs,
    assemble_oof,
    execute_jobs,
    keyed_target,
)
from mlfactory.training.grid_stages import Tuner, grid_leaderboard, job_totals, run_recipes
from mlfactory.training.model_data import build_model_data
from mlfactory.training.oof import oof_log_loss, write_oof

__all__ = ["GridProgress", "GridTarget", "parse_models", "plan_grid", "run_grid"]

METHOD = "purged"
NOT_BASES = frozenset({Family.META, Family.ENSEMBLE})


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


def write_text_atomic(path: Path, text: str) -> None:
    """Temporary file, then rename: a reader sees the old file or the new one, never a partial one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def plan_grid(
    data: RunData,
    models: Sequence[str],
    horizons: Sequence[int],
    *,
    n_splits: int,
    seed: int,
    params: Sequence[str] = (),
    tuner: Callable[..., ModelConfig] | None = None,
    hashes: FileHashes | None = None,
) -> list[GridTarget]:
    """Folds per horizon (written to ``RUN/cv``), datasets and keyed jobs per (model, horizon).

    ``tuner(cfg, dataset, plan, horizon)`` (see ``Tuner``) may replace a model's config by
    its tuned one before the jobs are keyed.
    """
    hashes = hashes or FileHashes(data.run.root)
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
            out_dir = data.run.model_dir(name, h)
            targets.append(keyed_target(data, name, cfg, dataset, plan, seed, hashes, out_dir))
    return targets


def open_grid_run(run: Path, horizons: Sequence[int]) -> RunData:
    """The run, once the horizons are known to be in it."""
    if not horizons:
        raise ConfigError("--horizons: give at least one horizon, e.g. --horizons 5,10")
    data = RunData(run)
    missing = sorted(set(horizons) - set(data.horizons))
    if missing:
        raise ConfigError(
            f"--horizons {missing}: not in the run (it has {data.horizons}); rerun `pipeline run` with them"
        )
    return data


def grid_tuner(
    data: RunData, ex: Executor, tune: int, seed: int, batch: int, progress: Callable[[str], None]
) -> Tuner | None:
    """``--tune N``: the tuner that runs before each (model, horizon)'s jobs are keyed; None without it."""
    if not tune:
        return None
    progress(f"grid: tuning each model with {tune} Optuna trials ({batch} at a time) on the executor")
    return Tuner(data, ex, tune, seed, batch)


def target_oof_summary(target: GridTarget, store: JobStore) -> dict[str, Any]:
    """Assemble a (model, horizon)'s OOF from its jobs, write it where `cv` writes it, and score it."""
    oof = assemble_oof(target, store)
    write_oof(oof, target.out_dir)
    loss, prior = oof_log_loss(oof.frame, target.plan.clock)
    return {
        "model": target.model, "horizon": target.horizon, "oof_log_loss": loss, "prior_log_loss": prior,
        "coverage": oof.coverage.fraction, "folds": len(target.jobs), "directory": str(target.out_dir),
    }  # fmt: skip


def write_grid_summary(root: Path, summary: dict[str, Any], records: list[dict[str, Any]]) -> None:
    """``RUN/grid/summary.json``: the summary and every job's record."""
    doc = {**summary, "job_records": records}
    write_text_atomic(root / "grid" / "summary.json", json.dumps(doc, indent=2, sort_keys=True, default=str))


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
    data = open_grid_run(run, horizons)
    seed = int(data.manifest.get("seed", 0) if seed is None else seed)
    progress(f"grid: planning {len(models)} model(s) × {len(horizons)} horizon(s) × {n_splits} folds")
    store, hashes = JobStore(data.run.root), FileHashes(data.run.root)
    with make_executor(executor, workers, ray_address=ray_address) as ex:
        tuner = grid_tuner(data, ex, tune, seed, tune_batch, progress)
        targets = plan_grid(
            data, models, horizons, n_splits=n_splits, seed=seed, params=params, tuner=tuner, hashes=hashes
        )
        records, cached = execute_jobs(targets, store, ex, force=force, on_progress=on_progress)
        models_summary = {f"{t.model}_h{t.horizon}": target_oof_summary(t, store) for t in targets}
        lent = OofJobs(store, ex, hashes, force, fresh={r["key"] for r in records})
        ens_summary = run_recipes(
            data, ensembles, horizons, seed=seed, jobs=lent, force=force, progress=progress
        )
    all_records = [store.record(j.key) for t in targets for j in t.jobs]
    summary = {
        "run": str(data.run.root), "executor": {"kind": executor, "workers": workers, "ray_address": ray_address},
        "seed": seed, "n_splits": n_splits, "method": METHOD,
        "jobs": job_totals(all_records, computed=len(records), cached=cached),
        "models": models_summary, "ensembles": ens_summary, "tuning": {} if tuner is None else tuner.summary,
        "leaderboard": grid_leaderboard(data.run.root, models_summary, bool(ensembles)),
        "wall_seconds": round(time.perf_counter() - t0, 3),
    }  # fmt: skip
    write_grid_summary(data.run.root, summary, all_records)
    return summary
