"""One cross-validation plan, shared by OOF, tuning, `cv`, the ensemble and the walk-forward backtest.

A ``CVPlan`` holds the decision clock the folds index (the training period), the folds themselves
(PurgedKFold, walk-forward or CPCV, purged and embargoed), the embargo and the inner-validation
fraction each fold carves for early stopping. Everything that fits models on folds receives the
plan — never its pieces — so every model of a run sees exactly the same rows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mlfactory.errors import ConfigError, DataError
from mlfactory.splits import Fold, combinatorial_purged_cv, folds_to_json, purged_kfold, walk_forward
from mlfactory.training.clock import DecisionClock

if TYPE_CHECKING:
    from mlfactory.run_data import RunData

METHODS = ("purged", "walk-forward", "cpcv")
INNER_VAL_FRAC = 0.15


@dataclass(frozen=True)
class CVPlan:
    clock: DecisionClock  # the rows the folds index (the run's training period)
    folds: tuple[Fold, ...]
    embargo_ns: int
    inner_val_frac: float | None = INNER_VAL_FRAC
    method: str = "purged"
    n_splits: int = 0
    test_groups: int = 2

    def __post_init__(self) -> None:
        if not self.folds:
            raise ConfigError("CV plan: no folds; build them with mlfactory.splits (e.g. purged_kfold)")

    @classmethod
    def build(
        cls,
        clock: DecisionClock,
        embargo_ns: int,
        *,
        method: str = "purged",
        n_splits: int = 5,
        test_groups: int = 2,
        inner_val_frac: float | None = INNER_VAL_FRAC,
    ) -> CVPlan:
        """Folds of ``method`` over ``clock`` (normally the training rows of a run's decision clock)."""
        folds = make_folds(clock.ts, clock.t1, method, n_splits, embargo_ns, test_groups)
        return cls(clock, tuple(folds), int(embargo_ns), inner_val_frac, method, n_splits, test_groups)

    @classmethod
    def for_run(
        cls, data: RunData, horizon: int, *, method: str = "purged", n_splits: int = 5, test_groups: int = 2
    ) -> CVPlan:
        """The plan over the training rows of a run's decision clock for ``horizon``."""
        return cls.build(
            data.clock(horizon).restrict("train"), data.embargo_ns,
            method=method, n_splits=n_splits, test_groups=test_groups,
        )  # fmt: skip

    @classmethod
    def from_folds(
        cls,
        ts: np.ndarray,
        t1: np.ndarray,
        folds: Sequence[Fold],
        *,
        embargo_ns: int = 0,
        inner_val_frac: float | None = INNER_VAL_FRAC,
    ) -> CVPlan:
        """A plan over bare clock arrays and given folds (unit tests, benchmarks, custom splits)."""
        if np.shape(t1) != np.shape(ts):
            raise DataError(
                f"t1: {np.size(t1)} label ends for {np.size(ts)} clock rows; give one t1 per clock row"
            )
        return cls(DecisionClock.from_arrays(ts, t1), tuple(folds), int(embargo_ns), inner_val_frac, "custom")

    @property
    def name(self) -> str:
        return f"{self.method}_k{self.n_splits}_h{self.clock.horizon}"

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "n_splits": self.n_splits,
            "horizon": self.clock.horizon,
            "embargo_ns": self.embargo_ns,
            "inner_val_frac": self.inner_val_frac,
            "folds": folds_to_json(list(self.folds), self.clock.ts),
        }

    def write(self, directory: Path) -> Path:
        """``<directory>/<method>_k<K>_h<H>.json``: the folds as timestamp intervals."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.name}.json"
        path.write_text(json.dumps(self.to_json(), indent=2))
        return path


def make_folds(
    ts: np.ndarray, t1: np.ndarray, method: str, n_splits: int, embargo_ns: int, test_groups: int = 2
) -> list[Fold]:
    if method == "purged":
        return purged_kfold(ts, t1, n_splits, embargo_ns)
    if method == "walk-forward":
        return walk_forward(ts, t1, n_splits, mode="expanding", embargo_ns=embargo_ns)
    if method == "cpcv":
        return list(combinatorial_purged_cv(ts, t1, n_splits, test_groups, embargo_ns).folds)
    raise ConfigError(f"--method {method!r}: use one of {', '.join(METHODS)}")
