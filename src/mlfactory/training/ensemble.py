"""`mlfactory train-ensemble`: heterogeneous stacking on one decision clock (DESIGN.md invariants 2, 4).

A sequence of small stages (``training.ensemble_stages``), each returning a typed result:

1. **oof** — every base on its own timeframe, MTF strategy and feature set predicts out of fold on
   the SAME ``CVPlan`` over the training period;
2. **stack** — the OOF probabilities become one 2D matrix (plus optional meta-features); rows a
   base cannot predict are dropped or imputed by the reported coverage policy;
3. **combiners** — every guard candidate is a fitted model on that matrix: the meta-learner, the
   OOF-weighted average and the best base (``voting`` with ``inverse_loss`` / ``best`` weighting);
4. **retrain** — the bases are refitted on the whole training period (early stopping on
   validation) and predict validation and test;
5. **guard** — on validation (later than every OOF row), the candidates are scored on the same
   stacked rows; the best is kept (or the one the user forces);
6. **evaluate** and **bundle** — metrics of the kept combiner, and the bundle for inference,
   written aside and renamed into place whole.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlfactory.artifacts import write_file_manifest
from mlfactory.evaluation.metrics_schema import MetricsRecord, write_metrics
from mlfactory.locks import writer_lock
from mlfactory.run_data import RunData
from mlfactory.run_dir import current_generation, stamp_generation
from mlfactory.runtime.executor import make_executor
from mlfactory.serving.bundle import run_conventions
from mlfactory.training import ensemble_stages as stages
from mlfactory.training.ensemble_fit import EnsembleSpec, StageTimer, fit_ensemble

if TYPE_CHECKING:
    from mlfactory.training.grid_jobs import OofJobs

__all__ = ["EnsembleResult", "EnsembleSpec", "train_ensemble"]
Progress = Callable[[str], None]


@dataclass(frozen=True)
class EnsembleResult:
    directory: Path
    metrics: MetricsRecord


def train_ensemble(
    run: Path,
    spec: EnsembleSpec,
    *,
    seed: int | None = None,
    executor: str = "inprocess",
    workers: int = 1,
    ray_address: str | None = None,
    progress: Progress = lambda m: None,
    oof_jobs: OofJobs | None = None,
) -> EnsembleResult:
    """Fit, evaluate and bundle ``spec``; with ``oof_jobs`` (the grid's), the bases' OOF folds are
    content-addressed jobs on its store and executor (reused where the grid computed them)."""
    spec.check()
    data = RunData(run)
    run_conventions(data.manifest, data.run.manifest_path)  # the bundle records them: fail before training
    seed = int(data.manifest.get("seed", 0) if seed is None else seed)
    out = data.run.ensemble_dir(spec.ensemble_id)
    generation = current_generation(data.run)
    timer = StageTimer()
    with writer_lock(out, what="ensemble bundle"), stages.staged_directory(out) as staging:
        lent = None if oof_jobs is None else nullcontext(oof_jobs.executor)
        with lent or make_executor(executor, workers, ray_address=ray_address) as ex:
            fitted = fit_ensemble(
                data, spec, data.clock(spec.horizon), seed, ex, staging, progress, timer, oof_jobs=oof_jobs
            )
        metrics = stages.evaluation_stage(
            data, spec, fitted.plan, fitted.oof, fitted.stack, fitted.combiners, fitted.guard, staging, seed
        )
        stages.bundle_stage(staging, data, spec, fitted.configs, fitted.stack, fitted.combiners, fitted.guard)
        metrics = metrics.model_copy(update={"timings_seconds": timer.seconds, "generation": generation})
        write_metrics(staging, metrics)
        stamp_generation(staging, generation)
        write_file_manifest(staging, generation=generation)
    return EnsembleResult(out, metrics)
