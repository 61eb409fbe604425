"""OOF folds as content-addressed jobs: keyed, run on an executor, stored in ``RUN/jobs/``, assembled.

One (model, horizon, fold) job is keyed (``runtime.jobs.job_key``) by everything its predictions
depend on: the sha256 of the run files its dataset is built from, the resolved config and routing,
the dataset's decision timestamps, the fold's rows, the CV plan (method, folds, embargo, inner
validation), the seed and the feature selector. `mlfactory grid` keys its targets this way, and its
ensemble recipes take their bases' OOF through ``OofJobs``: a base whose jobs the grid has just
computed is read back from the store, anything else (a base not in ``--models``, other params or
routing, another fold count) gets new keys and is computed on the same executor — the result is
the one ``generate_oof`` would compute, job for job.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from mlfactory.errors import DataError
from mlfactory.models.base import PROBA_COLUMNS, Dataset, InputKind
from mlfactory.models.config import ModelConfig
from mlfactory.run_data import RunData
from mlfactory.runtime.executor import Executor
from mlfactory.runtime.jobs import JobStore, array_digest, job_key
from mlfactory.runtime.resources import JobResources, PeakMemory, current_node, job_resources
from mlfactory.selection.step import FeatureSelector
from mlfactory.training.cv_plan import CVPlan
from mlfactory.training.oof import FoldJob, FoldResult, OofCoverage, OofResult, oof_frame, plan_fold_jobs


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


class FileHashes:
    """sha256 of run files, each computed once per grid."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: dict[Path, str] = {}

    def __call__(self, files: Sequence[Path]) -> dict[str, str]:
        from mlfactory.artifacts import sha256_file

        out = {}
        for f in files:
            if f not in self._cache:
                self._cache[f] = sha256_file(f) if f.is_file() else "missing"
            out[str(f.relative_to(self.root))] = self._cache[f]
        return out


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


def config_record(cfg: ModelConfig) -> dict[str, Any]:
    """The resolved config a job's key holds: routing (timeframe, MTF, feature set) and every param."""
    return {
        "model": cfg.model,
        "timeframe": cfg.timeframe,
        "mtf_strategy": cfg.mtf_strategy.value,
        "mtf_timeframes": list(cfg.mtf_timeframes),
        "feature_set": cfg.feature_set,
        "params": cfg.params.model_dump(mode="json"),
    }


def keyed_target(
    data: RunData,
    name: str,
    cfg: ModelConfig,
    dataset: Dataset,
    plan: CVPlan,
    seed: int,
    hashes: FileHashes,
    out_dir: Path,
) -> GridTarget:
    """One (model, horizon)'s fold jobs on ``plan``, each with its content key."""
    h = plan.clock.horizon
    selector = FeatureSelector.for_model(name, cfg.model_cls.family, seed)
    fold_jobs, coverage = plan_fold_jobs(
        cfg.model_cls, cfg.params, dataset, plan, seed, n_jobs=1, selector=selector
    )
    if not fold_jobs:
        raise DataError(
            f"model {name!r} (h{h}) has too few training rows in every fold; drop it from --models "
            "or use more data / a timeframe with a shorter warm-up"
        )
    target = GridTarget(name, h, dataset, plan, coverage, out_dir)
    common = {
        "kind": "oof-fold", "model": name, "horizon": h, "config": config_record(cfg),
        "inputs": hashes(input_files(data, cfg, h)), "dataset_rows": array_digest(dataset.timestamps),
        "seed": seed, "method": plan.method, "n_splits": plan.n_splits, "inner_val_frac": plan.inner_val_frac,
        "embargo_ns": plan.embargo_ns, "selector": None if selector is None else selector.__dict__,
    }  # fmt: skip
    res = job_resources(cfg.model_cls.family.value, _nbytes(dataset))
    for fj in fold_jobs:
        rows = array_digest(dataset.timestamps[fj.train_rows], fj.val_rows, fj.test_rows)
        key = job_key({**common, "fold": fj.fold_id, "rows": rows})
        target.jobs.append(GridJob(key, name, h, fj.fold_id, f"{name}_h{h}", fj, str(data.run.root), res))
    return target


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
    keep: frozenset[str] = frozenset(),
) -> tuple[list[dict[str, Any]], int]:
    """Run the jobs without a complete result (with ``force`` all but those in ``keep``, the ones this
    grid has already computed); return the new records and how many were cached."""
    store.clean_temporaries()
    jobs = [j for t in targets for j in t.jobs]
    todo = [j for j in jobs if (force and j.key not in keep) or not store.is_complete(j.key)]
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
    """The (model, horizon)'s OOF from its jobs' stored predictions — the frame ``generate_oof`` returns."""
    results = []
    for job in target.jobs:
        preds = store.read(job.key).predictions
        proba = preds.select(PROBA_COLUMNS).to_numpy()
        results.append(FoldResult(job.fold_id, preds["row"].to_numpy(), proba))
    return OofResult(
        oof_frame(results, target.dataset.timestamps), target.coverage, [j.fold for j in target.jobs]
    )


@dataclass
class OofJobs:
    """The grid's job store and executor, lent to its ensemble recipes for their bases' OOF.

    ``oof`` keys a base's folds exactly as the grid keys its own, reads back every job with a
    complete result (with ``force``, only those this grid computed: ``fresh``) and runs the others
    on ``executor``; ``computed`` and ``reused`` count those jobs until ``tally`` reads and resets them.
    """

    store: JobStore
    executor: Executor
    hashes: FileHashes
    force: bool = False
    fresh: set[str] = field(default_factory=set)
    computed: int = 0
    reused: int = 0

    def oof(
        self, data: RunData, name: str, cfg: ModelConfig, dataset: Dataset, plan: CVPlan, seed: int
    ) -> OofResult:
        """``generate_oof`` of ``cfg`` on ``plan`` with the selector the grid uses, from stored jobs where keys match."""
        # no out_dir: the ensemble writes its bases' OOF into its own bundle
        target = keyed_target(data, name, cfg, dataset, plan, seed, self.hashes, Path())
        records, cached = execute_jobs(
            [target], self.store, self.executor, force=self.force, keep=frozenset(self.fresh)
        )
        self.fresh |= {r["key"] for r in records}
        self.computed += len(records)
        self.reused += cached
        return assemble_oof(target, self.store)

    def tally(self) -> dict[str, int]:
        """Jobs computed and reused since the last ``tally`` (then reset)."""
        out = {"computed": self.computed, "reused": self.reused}
        self.computed = self.reused = 0
        return out
