"""Out-of-fold predictions for any model on the shared folds, strictly nested (AFML ch. 7).

Folds come from the run's ``CVPlan``: they index its decision clock (with label ends ``t1``),
identical for every model. A model's dataset holds the clock rows it could build (a sequence model lacks its warm-up
rows), matched by timestamp. For each fold:

- train rows = the fold's training rows present in the dataset; when the model uses a validation
  set (``uses_validation``, default true), the latest ``inner_val_frac`` of them become an inner
  validation slice and the rest are purged and embargoed against it
  (``mlfactory.splits.inner_validation_split``) — early stopping and calibration never see the
  fold being predicted;
- the model is fitted from scratch (same ``seed`` in every fold) and predicts the fold's test rows;
- test rows absent from the dataset are reported in the coverage, never filled.

(model, fold) jobs run through an ``Executor``; the dataset is shipped to workers once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from mlfactory.errors import DataError
from mlfactory.models.base import CLASSES, PROBA_COLUMNS, Dataset, Model, ModelParams
from mlfactory.runtime.executor import Executor
from mlfactory.splits import Fold, inner_validation_split
from mlfactory.training.clock import DecisionClock
from mlfactory.training.cv_plan import CVPlan

OOF_FILE = "oof.parquet"
MIN_FOLD_TRAIN_ROWS = 50  # below this a fold is not fitted; its test rows are reported as not covered
COVERAGE_FILE = "oof_coverage.json"


@dataclass(frozen=True)
class FoldJob:
    """One (model, fold) job: what to build and the dataset rows to fit, validate on and predict."""

    model_cls: type[Model]
    params: dict[str, Any]
    seed: int
    n_jobs: int
    fold_id: int
    train_rows: np.ndarray
    val_rows: np.ndarray | None
    test_rows: np.ndarray
    selector: Any = None  # a FeatureSelector: chooses columns on this fold's training rows only


@dataclass(frozen=True)
class FoldResult:
    fold_id: int
    test_rows: np.ndarray
    proba: np.ndarray  # (len(test_rows), 3)


@dataclass(frozen=True)
class FoldCoverage:
    fold_id: int
    n_test: int  # test rows on the clock
    n_predicted: int  # of which the model had rows for
    n_train: int
    n_val: int


@dataclass(frozen=True)
class OofCoverage:
    """How many of the folds' test rows the model predicted; ``missing`` lists the others."""

    folds: list[FoldCoverage]
    missing: pl.DataFrame  # timestamp, fold

    @property
    def n_test(self) -> int:
        return sum(f.n_test for f in self.folds)

    @property
    def n_predicted(self) -> int:
        return sum(f.n_predicted for f in self.folds)

    @property
    def fraction(self) -> float:
        return self.n_predicted / self.n_test if self.n_test else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_test": self.n_test,
            "n_predicted": self.n_predicted,
            "fraction": self.fraction,
            "folds": [f.__dict__ for f in self.folds],
            "missing_timestamps_ns": self.missing["timestamp"].dt.epoch("ns").to_list(),
            "missing_folds": self.missing["fold"].to_list(),
        }


@dataclass(frozen=True)
class OofResult:
    frame: pl.DataFrame  # timestamp, fold, p_short, p_neutral, p_long — sorted by (timestamp, fold)
    coverage: OofCoverage
    jobs: list[FoldJob] = field(default_factory=list, repr=False)


def generate_oof(
    model_cls: type[Model],
    params: ModelParams | dict[str, Any],
    dataset: Dataset,
    plan: CVPlan,
    executor: Executor,
    seed: int,
    *,
    n_jobs: int = 1,
    selector: Any = None,
) -> OofResult:
    """Fit ``model_cls`` on each fold of ``plan`` and predict the fold's test rows.

    ``dataset`` holds the clock rows the model could build (matched by timestamp). Returns the OOF
    frame and the coverage report.
    """
    jobs, coverage = plan_fold_jobs(model_cls, params, dataset, plan, seed, n_jobs=n_jobs, selector=selector)
    if not jobs:
        raise DataError(
            f"model {model_cls.name!r} has fewer than {MIN_FOLD_TRAIN_ROWS} training rows in every fold; "
            "use more data or a timeframe/feature set with a shorter warm-up"
        )
    results = executor.map(fit_predict_fold, jobs, shared=dataset)
    return OofResult(oof_frame(results, dataset.timestamps), coverage, jobs)


def plan_fold_jobs(
    model_cls: type[Model],
    params: ModelParams | dict[str, Any],
    dataset: Dataset,
    plan: CVPlan,
    seed: int,
    *,
    n_jobs: int = 1,
    selector: Any = None,
) -> tuple[list[FoldJob], OofCoverage]:
    """The jobs ``generate_oof`` runs (rows of ``dataset``) and the coverage of the plan's test folds."""
    params_dict = params.model_dump() if isinstance(params, ModelParams) else dict(params)
    ds_ts = np.asarray(dataset.timestamps, dtype=np.int64)
    if ds_ts.size > 1 and (np.diff(ds_ts) <= 0).any():
        raise DataError("dataset: timestamps must be strictly increasing to be matched against the folds")
    row_of = _rows_on_clock(plan.clock.ts, ds_ts)  # dataset row of each clock row, -1 when absent
    use_val = plan.inner_val_frac is not None and getattr(model_cls, "uses_validation", True)
    empty = np.empty(0, np.int64)
    template = FoldJob(model_cls, params_dict, int(seed), int(n_jobs), -1, empty, None, empty, selector)
    jobs, per_fold, missing_ts, missing_fold = [], [], [], []
    for fold in plan.folds:
        job, coverage, absent = _plan_fold(fold, plan, row_of, use_val, template)
        if job is not None:
            jobs.append(job)
        per_fold.append(coverage)
        missing_ts.append(plan.clock.ts[absent])
        missing_fold.append(np.full(absent.size, fold.fold_id, dtype=np.int64))
    missing = pl.DataFrame(
        {"timestamp": np.concatenate(missing_ts), "fold": np.concatenate(missing_fold)},
        schema={"timestamp": pl.Int64, "fold": pl.Int64},
    ).with_columns(pl.col("timestamp").cast(pl.Datetime("ns", "UTC")))
    return jobs, OofCoverage(per_fold, missing.sort("timestamp", "fold"))


def _plan_fold(
    fold: Fold, plan: CVPlan, row_of: np.ndarray, use_val: bool, template: FoldJob
) -> tuple[FoldJob | None, FoldCoverage, np.ndarray]:
    """One fold's job (None when the model has too few training rows there), coverage and absent test rows."""
    n_clock = plan.clock.ts.size
    for name in ("train_idx", "test_idx"):
        idx = getattr(fold, name)
        if idx.size and (idx.min() < 0 or idx.max() >= n_clock):
            raise DataError(f"fold {fold.fold_id}: {name} points outside the {n_clock} clock rows")
    train_clock = fold.train_idx[row_of[fold.train_idx] >= 0]
    if train_clock.size < MIN_FOLD_TRAIN_ROWS:
        # The model has (almost) no rows in this fold's training part — typically a long warm-up
        # at the start of the data. It cannot predict this fold: its test rows become coverage.
        coverage = FoldCoverage(fold.fold_id, int(fold.test_idx.size), 0, int(train_clock.size), 0)
        return None, coverage, fold.test_idx
    val_rows = None
    if use_val:
        train_clock, val_clock = inner_validation_split(
            train_clock, plan.clock.ts, plan.clock.t1, plan.inner_val_frac, plan.embargo_ns
        )
        val_rows = row_of[val_clock]
    test_present = row_of[fold.test_idx] >= 0
    train_rows, test_rows = row_of[train_clock], row_of[fold.test_idx[test_present]]
    job = replace(
        template, fold_id=fold.fold_id, train_rows=train_rows, val_rows=val_rows, test_rows=test_rows
    )
    n_val = 0 if val_rows is None else int(val_rows.size)
    coverage = FoldCoverage(
        fold.fold_id, int(fold.test_idx.size), int(test_rows.size), int(train_rows.size), n_val
    )
    return job, coverage, fold.test_idx[~test_present]


def fit_predict_fold(dataset: Dataset, job: FoldJob) -> FoldResult:
    """Fit a fresh model on the job's training rows (validation rows for early stopping) and predict its test rows."""
    model = job.model_cls(job.params, seed=job.seed, n_jobs=job.n_jobs)
    if job.selector is not None:
        dataset = dataset.select_columns(job.selector.select(dataset.subset(job.train_rows)))
    val = None if job.val_rows is None else dataset.subset(job.val_rows)
    model.fit(dataset.subset(job.train_rows), val)
    if job.test_rows.size == 0:
        return FoldResult(job.fold_id, job.test_rows, np.zeros((0, 3)))
    return FoldResult(job.fold_id, job.test_rows, model.predict_proba(dataset.x.subset(job.test_rows)))


def oof_frame(results: Sequence[FoldResult], timestamps: np.ndarray) -> pl.DataFrame:
    """Stack fold predictions into (timestamp, fold, p_short, p_neutral, p_long), sorted by timestamp then fold."""
    rows = np.concatenate([r.test_rows for r in results]) if results else np.empty(0, np.int64)
    proba = np.concatenate([r.proba for r in results]) if results else np.empty((0, 3))
    folds = (
        np.concatenate([np.full(r.test_rows.size, r.fold_id, dtype=np.int64) for r in results])
        if results
        else rows
    )
    frame = pl.DataFrame(
        {
            "timestamp": np.asarray(timestamps, dtype=np.int64)[rows],
            "fold": folds.astype(np.int64),
            **{c: proba[:, j] for j, c in enumerate(PROBA_COLUMNS)},
        },
        schema={"timestamp": pl.Int64, "fold": pl.Int64, **dict.fromkeys(PROBA_COLUMNS, pl.Float64)},
    )
    return frame.with_columns(pl.col("timestamp").cast(pl.Datetime("ns", "UTC"))).sort("timestamp", "fold")


def write_oof(result: OofResult, directory: Path) -> Path:
    """Write ``oof.parquet`` and ``oof_coverage.json`` into ``directory`` (e.g. ``RUN/models/<name>_h<H>``)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    result.frame.write_parquet(directory / OOF_FILE)
    (directory / COVERAGE_FILE).write_text(json.dumps(result.coverage.to_dict(), indent=2))
    return directory / OOF_FILE


def _rows_on_clock(clock: np.ndarray, ds_ts: np.ndarray) -> np.ndarray:
    """For each clock timestamp, the dataset row with the same timestamp, or -1."""
    pos = np.searchsorted(ds_ts, clock)
    pos_c = np.minimum(pos, max(ds_ts.size - 1, 0))
    found = (pos < ds_ts.size) & (ds_ts[pos_c] == clock) if ds_ts.size else np.zeros(clock.size, bool)
    extra = np.setdiff1d(ds_ts, clock, assume_unique=True)
    if extra.size:
        raise DataError(
            f"dataset: {extra.size} timestamps are not on the decision clock (first {extra[0]}); "
            "build the model's view on the run's decision timestamps"
        )
    return np.where(found, pos_c, -1).astype(np.int64)


def oof_log_loss(frame: pl.DataFrame, clock: DecisionClock) -> tuple[float, float]:
    """Log loss of OOF predictions and of the clock's class prior, on the predicted rows."""
    from sklearn.metrics import log_loss

    if frame.height == 0:
        return float("nan"), float("nan")
    y = clock.y[clock.rows_of(frame["timestamp"].dt.epoch("ns").to_numpy())]
    p = frame.select(PROBA_COLUMNS).to_numpy()
    prior = np.tile(clock.class_priors(), (len(y), 1))
    return float(log_loss(y, p, labels=list(CLASSES))), float(log_loss(y, prior, labels=list(CLASSES)))
