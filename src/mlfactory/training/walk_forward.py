"""`mlfactory backtest --walk-forward`: re-fit on the past, predict the next days, stitch, backtest.

Trading days come from the decision timeframe's bars. Step ``k`` tests the ``test_days`` trading
days starting at day ``train_days + k * refit_every`` and trains on the ``train_days`` days before
them (``--expanding``: on every day before them). Each step is a labelled decision clock of its own
(``DecisionClock`` with step-specific splits), so a step fits exactly as `train` or `train-ensemble`
fits on the run's clock:

- training rows whose label window ``[t, t1]`` reaches the step's test window are purged (and the
  latest training rows become the step's validation slice for early stopping, purged the same way
  against it); nothing after the test window is ever training (walk-forward needs no embargo);
- the feature budget (and, for ensembles, the whole stack: inner OOF, meta-learner, guard) is fitted
  on the step's own training rows only.

When steps overlap (``refit_every < test_days``), a decision takes the prediction of the latest step
that tests it — the model a trader would have had then. The stitched out-of-sample predictions go
through the same costed backtest as every other evaluation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from mlfactory.adapters.stacking import probability_frame
from mlfactory.errors import ConfigError, DataError
from mlfactory.evaluation import daily_information_coefficients
from mlfactory.evaluation.metrics_schema import MetricsRecord, write_metrics
from mlfactory.jsonio import write_json
from mlfactory.models.base import PROBA_COLUMNS
from mlfactory.models.config import ModelConfig
from mlfactory.run_data import RunData
from mlfactory.runtime.executor import Executor, make_executor
from mlfactory.training.clock import DecisionClock
from mlfactory.training.configs import resolve_config
from mlfactory.training.cv_plan import INNER_VAL_FRAC
from mlfactory.training.ensemble_fit import EnsembleSpec, fit_ensemble
from mlfactory.training.ensemble_stages import staged_directory
from mlfactory.training.evaluate import SplitEvaluation, evaluate_split, overfitting_block
from mlfactory.training.fitting import fit_final, select_features
from mlfactory.training.model_data import build_model_data
from mlfactory.training.overfitting_stats import run_trial_sharpes

MIN_STEP_TRAIN_ROWS = 50

Progress = Callable[[str], None]


@dataclass(frozen=True)
class WalkForwardSpec:
    horizon: int
    train_days: int
    test_days: int
    refit_every: int | None = None  # default: test_days (non-overlapping test windows)
    expanding: bool = False
    inner_val_frac: float = INNER_VAL_FRAC

    @property
    def step_days(self) -> int:
        return self.refit_every or self.test_days

    def check(self) -> None:
        for name in ("train_days", "test_days", "step_days"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(
                    f"--{name.replace('_', '-')}: expected a positive number of trading days, got {value!r}"
                )


@dataclass(frozen=True)
class WalkForwardStep:
    step_id: int
    train_days: tuple[str, str]  # first and last trading day of the training window
    test_days: tuple[str, str]
    clock: DecisionClock  # the run's clock with this step's splits: train / val / test / excluded

    def summary(self) -> dict[str, Any]:
        counts = {s: int((self.clock.split == s).sum()) for s in ("train", "val", "test")}
        return {
            "step": self.step_id,
            "train_days": list(self.train_days),
            "test_days": list(self.test_days),
            "rows": counts,
        }


def decision_trading_days(data: RunData, clock: DecisionClock) -> np.ndarray:
    """The exchange trading day (ISO date string) of every decision on the clock."""
    bars = data.bars(data.decision_timeframe).select("timestamp", "trading_day")
    ts = pl.DataFrame({"timestamp": pl.Series(clock.ts).cast(pl.Datetime("ns", "UTC"))})
    days = ts.join(bars, on="timestamp", how="left", maintain_order="left")["trading_day"]
    if days.null_count():
        raise DataError(
            f"{data.run.bars_path(data.decision_timeframe)}: {days.null_count()} decisions have no bar; "
            "rebuild the run with `mlfactory pipeline run --force`"
        )
    return days.cast(pl.String).to_numpy()


def plan_steps(clock: DecisionClock, days: np.ndarray, spec: WalkForwardSpec) -> list[WalkForwardStep]:
    """Every step's clock; the first step starts once ``train_days`` trading days have passed."""
    spec.check()
    unique = np.unique(days)
    if unique.size <= spec.train_days:
        raise DataError(
            f"walk-forward: the run has {unique.size} trading days, not more than --train-days {spec.train_days}; "
            "use fewer training days or more data"
        )
    steps = []
    for k, start in enumerate(range(spec.train_days, unique.size, spec.step_days)):
        test = unique[start : start + spec.test_days]
        train = unique[:start] if spec.expanding else unique[start - spec.train_days : start]
        split = step_splits(clock, np.isin(days, train), np.isin(days, test), spec.inner_val_frac)
        step_clock = replace(clock, split=split)
        steps.append(WalkForwardStep(k, (train[0], train[-1]), (test[0], test[-1]), step_clock))
    return steps


def step_splits(
    clock: DecisionClock, in_train: np.ndarray, in_test: np.ndarray, val_frac: float
) -> np.ndarray:
    """train / val / test / excluded for one step, purged against the validation slice and the test window."""
    split = np.full(len(clock), "excluded", dtype=object)
    split[in_test] = "test"
    test_start = clock.ts[in_test].min()
    candidates = np.flatnonzero(in_train & (clock.t1 < test_start))  # purge: labels must end before the test
    n_val = int(np.ceil(val_frac * candidates.size))
    if candidates.size < 2 or n_val >= candidates.size:
        return split.astype(str)
    val = candidates[-n_val:]
    train = candidates[:-n_val]
    train = train[clock.t1[train] < clock.ts[val[0]]]  # purge against the validation slice
    split[val] = "val"
    split[train] = "train"
    return split.astype(str)


def stitch(step_predictions: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """One out-of-sample series: per decision, the prediction of the latest step that tested it."""
    frame = pl.concat(step_predictions, how="vertical")
    return frame.sort("timestamp", "step").unique("timestamp", keep="last", maintain_order=True)


@dataclass(frozen=True)
class ModelStepJob:
    step: WalkForwardStep
    config: ModelConfig
    seed: int


def fit_predict_model_step(data: RunData, job: ModelStepJob) -> pl.DataFrame:
    """Fit one model on the step's training rows (early stopping on its validation slice); predict its test days."""
    md = select_features(build_model_data(data, job.config, job.step.clock), job.config, job.seed)
    if md.rows("train").size < MIN_STEP_TRAIN_ROWS:
        raise DataError(
            f"walk-forward step {job.step.step_id} (training days {job.step.train_days[0]}…{job.step.train_days[1]}): "
            f"{md.rows('train').size} training rows for {job.config.model}; use more --train-days"
        )
    model = fit_final(md, job.config, job.seed)
    idx = md.rows("test")
    proba = model.predict_proba(md.dataset.x.subset(idx))
    return probability_frame(md.timestamps[idx], proba).with_columns(pl.lit(job.step.step_id).alias("step"))


def ensemble_step(
    data: RunData,
    spec: EnsembleSpec,
    step: WalkForwardStep,
    seed: int,
    ex: Executor,
    out: Path,
    progress: Progress,
) -> pl.DataFrame:
    """The whole stack (inner OOF, meta-learner, retrain, guard) fitted on one step; its test predictions."""
    fitted = fit_ensemble(data, spec, step.clock, seed, ex, out, progress)
    test = fitted.guard.splits["test"]
    frame = probability_frame(test.matrix.view.timestamps, test.proba[fitted.guard.kept])
    return frame.with_columns(pl.lit(step.step_id).alias("step"), pl.lit(fitted.guard.kept).alias("kept"))


def step_metrics(
    data: RunData, clock: DecisionClock, stitched: pl.DataFrame, step: WalkForwardStep
) -> dict[str, Any]:
    """Log loss, Sharpe and IC of one step's share of the stitched series."""
    part = stitched.filter(pl.col("step") == step.step_id)
    out = step.summary() | {"predicted": part.height}
    if part.height < 10:
        return out | {"log_loss": None, "sharpe": None, "ic": None, "reason": "fewer than 10 predictions"}
    ev = _evaluate(data, clock, part, [])
    return out | {
        "log_loss": ev.classification["model"]["log_loss"],
        "sharpe": ev.trading["strategy"]["sharpe"],
        "ic": ev.signal["ic"],
        "trades": ev.trading["strategy"]["trade_count"],
    }


def known_class_priors(clock: DecisionClock, before_ns: int) -> np.ndarray:
    """Class frequencies of the labels already resolved (``t1``) before ``before_ns``: the prior a
    trader could know at the start of the evaluated period (never the period's own labels)."""
    known = np.flatnonzero(clock.t1 < before_ns)
    if known.size == 0:
        return np.full(3, 1.0 / 3.0)
    return clock.subset(known).class_priors()


def _evaluate(
    data: RunData, clock: DecisionClock, frame: pl.DataFrame, trials: list[float], trial_id: str | None = None
) -> SplitEvaluation:
    ts = frame["timestamp"].dt.epoch("ns").to_numpy()
    rows = clock.rows_of(ts)
    proba = frame.select(PROBA_COLUMNS).to_numpy()
    return evaluate_split(
        data,
        clock.horizon,
        ts,
        proba,
        clock.y[rows],
        clock.ret[rows],
        known_class_priors(clock, int(ts.min())),
        other_trials=trials,
        trial_id=trial_id,
        trial_kind="walk_forward",
    )


def run_walk_forward(
    run: Path,
    spec: WalkForwardSpec,
    *,
    model: str | None = None,
    ensemble: EnsembleSpec | None = None,
    params: Sequence[str] = (),
    seed: int | None = None,
    executor: str = "inprocess",
    workers: int = 1,
    ray_address: str | None = None,
    progress: Progress = lambda m: None,
) -> BacktestResult:
    if (model is None) == (ensemble is None):
        raise ConfigError("backtest: give exactly one of --model NAME or --recipe NAME")
    data = RunData(run)
    seed = int(data.manifest.get("seed", 0) if seed is None else seed)
    clock = data.clock(spec.horizon)
    steps = plan_steps(clock, decision_trading_days(data, clock), spec)
    name = model if model is not None else ensemble.ensemble_id.removesuffix(f"_h{spec.horizon}")  # type: ignore[union-attr]
    out = data.run.root / "backtests" / backtest_id(name, spec)
    progress(f"backtest: {name} walk-forward, {len(steps)} steps of {spec.test_days} trading days")
    with staged_directory(out) as staging, make_executor(executor, workers, ray_address=ray_address) as ex:
        if model is not None:
            cfg = resolve_config(model, params=params)
            jobs = [ModelStepJob(step, cfg, seed) for step in steps]
            predictions = ex.map(fit_predict_model_step, jobs, shared=data)
        else:
            predictions = [
                ensemble_step(
                    data, ensemble, step, seed, ex, staging / "steps" / f"{step.step_id:03d}", progress
                )  # type: ignore[arg-type]
                for step in steps
            ]
        result = evaluate_walk_forward(data, clock, steps, stitch(predictions), name, spec, seed)
        write_backtest(staging, result)
    return replace(result, directory=out)


@dataclass(frozen=True)
class BacktestResult:
    metrics: MetricsRecord
    steps: list[dict[str, Any]]
    evaluation: SplitEvaluation
    predictions: pl.DataFrame  # the stitched out-of-sample series
    directory: Path | None = None


def backtest_id(name: str, spec: WalkForwardSpec) -> str:
    mode = "exp" if spec.expanding else "roll"
    return f"{name}_h{spec.horizon}_wf{spec.train_days}x{spec.test_days}r{spec.step_days}{mode}"


def evaluate_walk_forward(
    data: RunData,
    clock: DecisionClock,
    steps: list[WalkForwardStep],
    stitched: pl.DataFrame,
    name: str,
    spec: WalkForwardSpec,
    seed: int,
) -> BacktestResult:
    """Whole-period and per-step metrics of the stitched out-of-sample series."""
    if stitched.height == 0:
        raise DataError(
            f"walk-forward {name}: no step produced a prediction; use more data or fewer --train-days"
        )
    trial_id = f"backtests/{backtest_id(name, spec)}"  # a walk-forward variant is a configuration tried
    ev = _evaluate(
        data, clock, stitched, run_trial_sharpes(data.run.root, exclude=data.run.root / trial_id), trial_id
    )
    coverage = {
        "decisions": len(clock),
        "out_of_sample": stitched.height,
        "fraction": round(stitched.height / max(len(clock), 1), 4),
    }
    record = MetricsRecord(
        kind="backtest",
        model=name,
        horizon=spec.horizon,
        family="walk_forward",
        seed=seed,
        walk_forward={
            "train_days": spec.train_days,
            "test_days": spec.test_days,
            "refit_every": spec.step_days,
            "expanding": spec.expanding,
            "steps": len(steps),
        },
        coverage=coverage,
        classification={"oos": ev.classification},
        trading={"oos": ev.trading},
        signal={"oos": ev.signal},
        overfitting=overfitting_block(ev),
    )
    per_step = [step_metrics(data, clock, stitched, s) for s in steps]
    return BacktestResult(record, per_step, ev, stitched)


def write_backtest(out: Path, result: BacktestResult) -> None:
    """``metrics.json``, ``steps.json``, the stitched predictions, equity and daily IC."""
    write_metrics(out, result.metrics)
    write_json(out / "steps.json", result.steps)
    preds = result.evaluation.predictions.join(
        result.predictions.select("timestamp", "step"), on="timestamp", how="left", maintain_order="left"
    )
    preds.write_parquet(out / "predictions_oos.parquet")
    result.evaluation.equity.write_parquet(out / "equity_oos.parquet")
    ts = preds["timestamp"].dt.epoch("ns").to_numpy()
    daily_information_coefficients(
        ts, preds.select(PROBA_COLUMNS).to_numpy(), preds["ret"].to_numpy()
    ).write_parquet(out / "daily_ic.parquet")
