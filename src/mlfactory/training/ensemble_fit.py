"""An ensemble recipe (``EnsembleSpec``) and how it is fitted on a labelled decision clock.

``fit_ensemble`` runs the stages oof → stack → combiners → retrain → guard
(``training.ensemble_stages``); `train-ensemble` then evaluates and bundles the result, and the
walk-forward backtest calls it once per step with that step's clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlfactory.errors import ConfigError
from mlfactory.models.base import InputKind
from mlfactory.models.config import ModelConfig
from mlfactory.models.registry import get_model_class
from mlfactory.run_data import RunData
from mlfactory.runtime.executor import Executor
from mlfactory.serving.bundle import FALLBACK_RULES, GUARD_CANDIDATES, FallbackRule
from mlfactory.training import ensemble_stages as stages
from mlfactory.training.clock import DecisionClock
from mlfactory.training.configs import resolve_configs
from mlfactory.training.cv_plan import CVPlan

if TYPE_CHECKING:
    from mlfactory.training.grid_jobs import OofJobs

Progress = Callable[[str], None]


@dataclass(frozen=True)
class EnsembleSpec:
    bases: tuple[str, ...]
    meta_learner: str
    horizon: int
    params: tuple[str, ...] = ()
    n_splits: int = 5
    coverage: stages.CoveragePolicy = "drop"
    fallback: FallbackRule = "available"  # a decision where a base cannot predict yet (serving.fallback)
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
        if self.fallback not in FALLBACK_RULES:
            raise ConfigError(f"--fallback {self.fallback!r}: use one of {', '.join(FALLBACK_RULES)}")
        if self.keep is not None and self.keep not in GUARD_CANDIDATES:
            raise ConfigError(f"--keep {self.keep!r}: use one of {', '.join(GUARD_CANDIDATES)}")

    @property
    def forced_candidate(self) -> str | None:
        return self.keep if self.keep is not None else (None if self.guard else "meta")


@dataclass(frozen=True)
class FittedEnsemble:
    configs: dict[str, ModelConfig]
    plan: CVPlan
    oof: stages.OofStage
    stack: stages.StackStage
    combiners: stages.CombinerStage
    guard: stages.GuardStage


def fit_ensemble(
    data: RunData,
    spec: EnsembleSpec,
    clock: DecisionClock,
    seed: int,
    ex: Executor,
    out: Path,
    progress: Progress,
    timer: StageTimer | None = None,
    *,
    oof_jobs: OofJobs | None = None,
) -> FittedEnsemble:
    """The stages oof → stack → combiners → retrain → guard on ``clock``, whose splits say what is
    training (OOF and retrain), validation (guard, early stopping) and test (predicted only).
    With ``oof_jobs`` the bases' OOF folds are keyed jobs on the grid's store (see ``oof_stage``)."""
    timer = timer or StageTimer()
    plan = CVPlan.build(clock.restrict("train"), data.embargo_ns, n_splits=spec.n_splits)
    configs = resolve_configs([*spec.bases, spec.meta_learner], spec.params)
    bases = {b: configs[b] for b in spec.bases}
    with timer("oof"):
        oof = stages.oof_stage(data, clock, plan, bases, ex, seed, out, progress, jobs=oof_jobs)
    with timer("meta"):
        stack = stages.stack_stage(data, plan, oof, spec.coverage, spec.meta_features)
        combiners = stages.combiner_stage(stack, configs[spec.meta_learner], seed)
    with timer("retrain"):
        retrain = stages.retrain_stage(data, oof, bases, seed, out, progress)
    guard = stages.guard_stage(data, clock, stack, combiners, retrain, spec.forced_candidate)
    return FittedEnsemble(bases, plan, oof, stack, combiners, guard)


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
