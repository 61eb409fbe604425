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

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mlfactory.errors import ConfigError
from mlfactory.evaluation.metrics_schema import MetricsRecord, write_metrics
from mlfactory.models.base import InputKind
from mlfactory.models.registry import get_model_class
from mlfactory.run_data import RunData
from mlfactory.runtime.executor import make_executor
from mlfactory.serving.bundle import GUARD_CANDIDATES
from mlfactory.training import ensemble_stages as stages
from mlfactory.training.configs import resolve_configs
from mlfactory.training.cv_plan import CVPlan

Progress = Callable[[str], None]


@dataclass(frozen=True)
class EnsembleSpec:
    bases: tuple[str, ...]
    meta_learner: str
    horizon: int
    params: tuple[str, ...] = ()
    n_splits: int = 5
    coverage: stages.CoveragePolicy = "drop"
    meta_features: bool = True
    guard: bool = True
    keep: str | None = None  # force a guard candidate: meta | weighted_average | best_base
    name: str | None = None

    @property
    def ensemble_id(self) -> str:
        stem = self.name or f"{'-'.join(self.bases)}__{self.meta_learner}"
        return f"{stem}_h{self.horizon}"

    def check(self) -> None:
        if len(self.bases) < 2:
            raise ConfigError(f"--base-models: an ensemble needs at least two bases, got {list(self.bases)}")
        if len(set(self.bases)) != len(self.bases):
            raise ConfigError(f"--base-models: a base is listed twice in {list(self.bases)}")
        if get_model_class(self.meta_learner).input_kind != InputKind.TABULAR:
            raise ConfigError(
                f"--meta-learner {self.meta_learner!r} is not tabular; meta-learners work on the stacked OOF "
                "matrix, which is always 2D — choose a tabular model (logistic, ridge_meta, mlp_meta, "
                "calibrated_meta, xgboost_meta, voting)"
            )
        if self.keep is not None and self.keep not in GUARD_CANDIDATES:
            raise ConfigError(f"--keep {self.keep!r}: use one of {', '.join(GUARD_CANDIDATES)}")

    @property
    def forced_candidate(self) -> str | None:
        return self.keep if self.keep is not None else (None if self.guard else "meta")


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
    progress: Progress = lambda m: None,
) -> EnsembleResult:
    spec.check()
    data = RunData(run)
    seed = int(data.manifest.get("seed", 0) if seed is None else seed)
    plan = CVPlan.for_run(data, spec.horizon, n_splits=spec.n_splits)
    configs = resolve_configs([*spec.bases, spec.meta_learner], spec.params)
    bases = {b: configs[b] for b in spec.bases}
    out = data.run.ensemble_dir(spec.ensemble_id)
    timer = StageTimer()
    with stages.staged_directory(out) as staging:
        with timer("oof"), make_executor(executor, workers) as ex:
            oof = stages.oof_stage(data, plan, bases, ex, seed, staging, progress)
        with timer("meta"):
            stack = stages.stack_stage(data, plan, oof, spec.coverage, spec.meta_features)
            combiners = stages.combiner_stage(stack, configs[spec.meta_learner], seed)
        with timer("retrain"):
            retrain = stages.retrain_stage(data, oof, bases, seed, staging, progress)
        guard = stages.guard_stage(data, spec.horizon, stack, combiners, retrain, spec.forced_candidate)
        metrics = stages.evaluation_stage(data, spec, plan, oof, stack, combiners, guard, staging, seed)
        stages.bundle_stage(staging, data, spec, bases, stack, combiners, guard)
        metrics = metrics.model_copy(update={"timings_seconds": timer.seconds})
        write_metrics(staging, metrics)
    return EnsembleResult(out, metrics)


class StageTimer:
    """Wall time per stage: ``with timer("oof"): ...``."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(time.perf_counter() - t0, 3)
