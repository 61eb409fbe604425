"""`mlfactory train`: fit one model on the training split, early-stop on validation, evaluate val and test.

Writes ``RUN/models/<name>_h<H>/``: the model files (safe formats + hash manifest), ``routing.json``
(the timeframe, MTF strategy and the exact feature columns the model received, and its coverage of
the decision clock), ``metrics.json``, ``predictions_{val,test}.parquet`` and ``equity_test.parquet``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mlfactory.artifacts import atomic_write_json
from mlfactory.evaluation.feature_importance import model_feature_importance, write_importance
from mlfactory.evaluation.metrics_schema import MetricsRecord, write_metrics
from mlfactory.locks import writer_lock
from mlfactory.models.base import Model
from mlfactory.models.config import ModelConfig
from mlfactory.run_data import RunData
from mlfactory.run_dir import GENERATION_FILE, current_generation, stamp_generation
from mlfactory.training.configs import resolve_config, routing_record
from mlfactory.training.evaluate import SplitEvaluation, evaluate_split, overfitting_block
from mlfactory.training.fitting import final_model_data, fit_final, write_evaluations
from mlfactory.training.model_data import ModelData, build_model_data
from mlfactory.training.overfitting_stats import run_trial_sharpes, trial_id_of

Progress = Callable[[str], None]
IMPORTANCE_ROWS = 2_000


@dataclass(frozen=True)
class TrainResult:
    directory: Path
    metrics: MetricsRecord
    model: Model


def evaluate_model(
    data: RunData, md: ModelData, model: Model, other_trials: list[float], trial_id: str | None = None
) -> dict[str, SplitEvaluation]:
    """The fitted model's evaluation on the validation and test splits (the test split recorded in the
    run's trial registry as ``trial_id`` when given)."""
    freqs = data.clock(md.horizon).restrict("train").class_priors()
    out = {}
    for split in ("val", "test"):
        idx = md.rows(split)
        proba = model.predict_proba(md.dataset.x.subset(idx))
        out[split] = evaluate_split(
            data, md.horizon, md.timestamps[idx], proba, md.dataset.y[idx], md.ret[idx], freqs,
            other_trials=other_trials, trial_id=trial_id if split == "test" else None,
        )  # fmt: skip
    return out


def validation_importance(md: ModelData, model: Model, seed: int) -> dict:
    """MDI (trees) and permutation MDA on the latest validation rows (at most ``IMPORTANCE_ROWS``),
    plain and clustered by correlation, for the report."""
    idx = md.rows("val")[-IMPORTANCE_ROWS:]
    return model_feature_importance(
        model, md.dataset.x.subset(idx), md.dataset.y[idx], list(md.feature_names), seed=seed
    )


def model_metrics(
    cfg: ModelConfig, md: ModelData, seed: int, fit_seconds: float, evaluations: dict[str, SplitEvaluation]
) -> MetricsRecord:
    return MetricsRecord(
        kind="model",
        model=cfg.model,
        horizon=md.horizon,
        family=cfg.model_cls.family.value,
        seed=seed,
        timeframe=cfg.timeframe,
        feature_set=cfg.feature_set,
        n_features=len(md.feature_names),
        rows={s: len(md.rows(s)) for s in ("train", "val", "test")},
        fit_seconds=round(fit_seconds, 3),
        classification={s: e.classification for s, e in evaluations.items()},
        trading={s: e.trading for s, e in evaluations.items()},
        signal={s: e.signal for s, e in evaluations.items()},
        overfitting=overfitting_block(evaluations["test"]),
    )


def train_model(
    run: Path,
    name: str,
    horizon: int,
    *,
    params: Sequence[str] = (),
    timeframe: str | None = None,
    feature_set: str | None = None,
    seed: int | None = None,
    n_jobs: int = 1,
    progress: Progress = lambda msg: None,
) -> TrainResult:
    data = RunData(run)
    cfg = resolve_config(name, params=params, timeframe=timeframe, feature_set=feature_set)
    seed = int(data.manifest.get("seed", 0) if seed is None else seed)
    out = data.run.model_dir(name, horizon)
    generation = current_generation(data.run)
    with writer_lock(out, what="model directory"):
        progress(
            f"train {name} (h{horizon}) on {cfg.timeframe}, {cfg.mtf_strategy.value}, feature set {cfg.feature_set}"
        )
        md = final_model_data(data, cfg, build_model_data(data, cfg, data.clock(horizon)), seed)
        t0 = time.perf_counter()
        model = fit_final(md, cfg, seed, n_jobs)
        fit_seconds = time.perf_counter() - t0
        evaluations = evaluate_model(
            data, md, model, run_trial_sharpes(data.run.root, exclude=out), trial_id_of(out)
        )
        metrics = model_metrics(cfg, md, seed, fit_seconds, evaluations).model_copy(
            update={"generation": generation}
        )
        (out / GENERATION_FILE).unlink(missing_ok=True)  # unstamped (not current) until every file is written
        model.save(out / "model", generation=generation)
        atomic_write_json(out / "routing.json", routing_record(cfg, md.feature_names, md.coverage))
        write_metrics(out, metrics)
        write_evaluations(out, evaluations)
        write_importance(out, validation_importance(md, model, seed))
        stamp_generation(out, generation)
    return TrainResult(out, metrics, model)
