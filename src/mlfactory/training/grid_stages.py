"""The stages of `mlfactory grid` around the OOF jobs: tuning, ensemble recipes, the leaderboard."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from mlfactory.models.base import Dataset
from mlfactory.models.config import ModelConfig
from mlfactory.run_data import RunData
from mlfactory.runtime.executor import Executor
from mlfactory.runtime.jobs import job_key
from mlfactory.runtime.resources import PeakMemory, current_node
from mlfactory.training.cv_plan import CVPlan
from mlfactory.training.grid_jobs import FileHashes, OofJobs


class Tuner:
    """``--tune N``: Optuna trials per (model, horizon) on the grid's executor, before its OOF jobs.

    The study lives in ``RUN/tuning/<model>_h<H>.journal`` (a re-run continues it), the best params
    go to ``RUN/models/<model>_h<H>/best_params.json`` and into the model's config, hence its keys.
    Each completed trial is recorded in ``RUN/trials.jsonl`` as ``models/<model>_h<H>/trial-<k>``
    (as `cv --tune` records its trials) when its result comes back to this process.
    """

    def __init__(self, data: RunData, executor: Executor, n_trials: int, seed: int, batch: int) -> None:
        self.data, self.executor, self.n_trials, self.seed, self.batch = data, executor, n_trials, seed, batch
        self.summary: dict[str, Any] = {}

    def __call__(self, cfg: ModelConfig, dataset: Dataset, plan: CVPlan, h: int) -> ModelConfig:
        from mlfactory.models.config import apply_overrides
        from mlfactory.training.cross_validate import tuning_trial_recorder
        from mlfactory.training.tuning import tune_parallel, write_best_params

        model_dir = self.data.run.model_dir(cfg.model, h)
        result = tune_parallel(
            cfg.model_cls, cfg.params, dataset, plan, self.executor, n_trials=self.n_trials, seed=self.seed,
            storage=self.data.run.root / "tuning" / f"{cfg.model}_h{h}.journal", batch=self.batch,
            search_space=cfg.search_space, on_trial=tuning_trial_recorder(self.data, plan, model_dir),
        )  # fmt: skip
        write_best_params(result, model_dir)
        states = result.trials["state"].to_list()
        self.summary[f"{cfg.model}_h{h}"] = {
            "trials": len(states), "pruned": states.count("PRUNED"), "best_log_loss": result.best_value,
            "best_params": result.best_params,
        }  # fmt: skip
        return apply_overrides(cfg, [f"{k}={json.dumps(v)}" for k, v in result.best_params.items()])


def run_data_files(data: RunData) -> list[Path]:
    root = data.run.root
    return sorted(
        [
            *root.glob("data/*.parquet"),
            *root.glob("features/*.parquet"),
            *root.glob("labels/*.parquet"),
            data.run.splits_path,
        ]
    )


def run_recipes(
    data: RunData,
    recipes: Sequence[str],
    horizons: Sequence[int],
    *,
    seed: int,
    jobs: OofJobs,
    force: bool = False,
    progress: Callable[[str], None] = lambda m: None,
) -> dict[str, Any]:
    """Train each ensemble recipe on each horizon with the existing ensemble training; skip unchanged ones.

    The bases' OOF comes through ``jobs`` (the grid's job store and executor): folds the grid has
    computed with the same key are reused, the others computed there.
    """
    from mlfactory.training.recipes import load_recipe

    if not recipes:
        return {}
    inputs = FileHashes(data.run.root)(run_data_files(data))
    out: dict[str, Any] = {}
    for name in recipes:
        rec = load_recipe(name)
        for h in horizons:
            out.update(
                run_recipe(data, rec, h, inputs=inputs, seed=seed, jobs=jobs, force=force, progress=progress)
            )
    return out


def run_recipe(
    data: RunData,
    rec: Any,
    h: int,
    *,
    inputs: dict[str, str],
    seed: int,
    jobs: OofJobs,
    force: bool,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    """One recipe on one horizon: kept when its key has a complete result, else trained on the grid's jobs."""
    from dataclasses import asdict

    from mlfactory.training.ensemble import train_ensemble

    spec = rec.spec(h)
    key = job_key({"kind": "ensemble", "spec": asdict(spec), "inputs": inputs, "seed": seed})
    directory = data.run.ensemble_dir(spec.ensemble_id)
    if not force and jobs.store.is_complete(key) and (directory / "metrics.json").is_file():
        progress(f"grid: ensemble {spec.ensemble_id} unchanged (job {key[:12]}), kept")
        return {spec.ensemble_id: {**jobs.store.record(key), "cached": True}}
    progress(f"grid: ensemble {spec.ensemble_id} ({', '.join(spec.bases)} → {spec.meta_learner})")
    jobs.tally()
    with PeakMemory() as mem:
        result = train_ensemble(data.run.root, spec, seed=seed, oof_jobs=jobs, progress=progress)
    record = {
        "ensemble": spec.ensemble_id, "recipe": rec.name, "horizon": h, "directory": str(directory),
        "wall_seconds": round(mem.seconds, 3), "peak_rss_bytes": int(mem.peak_rss), "node": current_node(),
        "kept": result.metrics.model_dump().get("guard", {}).get("kept"),
        "test_log_loss": result.metrics.log_loss("test"), "oof_jobs": jobs.tally(),
    }  # fmt: skip
    jobs.store.write(key, pl.DataFrame({"ensemble": [spec.ensemble_id]}), record)
    return {spec.ensemble_id: {**record, "key": key, "cached": False}}


def _finite(v: Any) -> Any:
    return None if isinstance(v, float) and not np.isfinite(v) else v


def grid_leaderboard(root: Path, models: dict[str, Any], with_ensembles: bool) -> dict[str, Any]:
    """Bases by OOF log loss per horizon (skill = prior − model), and the run's ensembles by test log loss."""
    bases = sorted(
        models.values(), key=lambda m: (m["horizon"], np.nan_to_num(m["oof_log_loss"], nan=np.inf))
    )
    rows = [
        {
            "kind": "model",
            "name": f"{m['model']}_h{m['horizon']}",
            "model": m["model"],
            "horizon": m["horizon"],
            "oof_log_loss": _finite(m["oof_log_loss"]),
            "prior_log_loss": _finite(m["prior_log_loss"]),
            "skill": _finite(m["prior_log_loss"] - m["oof_log_loss"]),
            "coverage": m["coverage"],
        }
        for m in bases
    ]
    ensembles: list[dict[str, Any]] = []
    if with_ensembles:
        from mlfactory.evaluation.report import build_leaderboard

        board = build_leaderboard(root, "log_loss", "test").to_json()
        ensembles = [r for r in board["rows"] if r["kind"] == "ensemble"]
    return {"bases": rows, "ensembles": ensembles, "ensemble_metric": "log_loss (test)"}


def job_totals(records: Sequence[dict[str, Any]], *, computed: int, cached: int) -> dict[str, Any]:
    """Counts, wall time and peak memory of the grid's jobs (from their records)."""
    walls = [r["wall_seconds"] for r in records]
    peaks = [r["peak_rss_bytes"] for r in records]
    return {
        "total": len(records),
        "computed": computed,
        "cached": cached,
        "job_seconds_sum": round(float(sum(walls)), 3),
        "job_seconds_max": round(float(max(walls, default=0.0)), 3),
        "peak_rss_bytes_max": int(max(peaks, default=0)),
        "nodes": sorted({r["node"] for r in records}),
    }
