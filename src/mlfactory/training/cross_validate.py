"""`mlfactory cv`: out-of-fold predictions for several models on the run's shared folds.

The folds are built once per call on the decision clock's training rows (timestamps and label ends
``t1`` from the labels file), purged and embargoed, and stored as timestamp intervals in
``RUN/cv/<method>_k<K>_h<H>.json`` — every model gets exactly the same folds, whatever its
timeframe or input shape. With ``--tune N`` each model first runs N Optuna trials on those folds
(objective: purged-CV log loss) and the OOF predictions use the best parameters, which are stored.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import log_loss

from mlfactory.errors import ConfigError
from mlfactory.models.base import CLASSES, PROBA_COLUMNS
from mlfactory.models.config import apply_overrides
from mlfactory.runtime.executor import make_executor
from mlfactory.selection.step import FeatureSelector
from mlfactory.splits import Fold, combinatorial_purged_cv, folds_to_json, purged_kfold, walk_forward
from mlfactory.training.model_data import build_model_data
from mlfactory.training.oof import generate_oof, write_oof
from mlfactory.training.run_data import RunData
from mlfactory.training.train import resolve_config
from mlfactory.training.tuning import tune_config, write_best_params

METHODS = ("purged", "walk-forward", "cpcv")
INNER_VAL_FRAC = 0.15


@dataclass(frozen=True)
class Clock:
    """The training rows of the decision clock that folds index."""

    ts: np.ndarray
    t1: np.ndarray
    y: np.ndarray


def training_clock(data: RunData, horizon: int) -> Clock:
    lab = data.labels(horizon)
    train = lab.filter(lab["split"] == "train")
    return Clock(
        train["timestamp"].dt.epoch("ns").to_numpy(),
        train["t1"].dt.epoch("ns").to_numpy(),
        train["label"].to_numpy(),
    )


def make_folds(clock: Clock, method: str, n_splits: int, embargo_ns: int, test_groups: int = 2) -> list[Fold]:
    if method == "purged":
        return purged_kfold(clock.ts, clock.t1, n_splits, embargo_ns)
    if method == "walk-forward":
        return walk_forward(clock.ts, clock.t1, n_splits, mode="expanding", embargo_ns=embargo_ns)
    if method == "cpcv":
        return list(combinatorial_purged_cv(clock.ts, clock.t1, n_splits, test_groups, embargo_ns).folds)
    raise ConfigError(f"--method {method!r}: use one of {', '.join(METHODS)}")


def oof_log_loss(frame, clock: Clock) -> tuple[float, float]:
    """Log loss of the OOF predictions and of the training prior, on the predicted rows."""
    if frame.height == 0:
        return float("nan"), float("nan")
    ts = frame["timestamp"].dt.epoch("ns").to_numpy()
    y = clock.y[np.searchsorted(clock.ts, ts)]
    p = frame.select(PROBA_COLUMNS).to_numpy()
    prior = np.array([(clock.y == c).mean() for c in CLASSES])
    return (
        float(log_loss(y, p, labels=list(CLASSES))),
        float(log_loss(y, np.tile(prior, (len(y), 1)), labels=list(CLASSES))),
    )


def params_per_model(models: Sequence[str], params: Sequence[str]) -> dict[str, list[str]]:
    """Route ``--param`` overrides: ``MODEL.KEY=V`` to that model, ``KEY=V`` to every model that has ``KEY``."""
    from mlfactory.models.registry import get_model_class

    out: dict[str, list[str]] = {m: [] for m in models}
    for item in params:
        key = item.partition("=")[0].strip()
        target, dot, _ = key.partition(".")
        if dot and target in out:
            out[target].append(item[len(target) + 1 :])
            continue
        if dot:
            raise ConfigError(f"--param {item!r}: model {target!r} is not among --models {', '.join(models)}")
        takers = [m for m in models if key in get_model_class(m).Params.model_fields]
        if not takers:
            raise ConfigError(f"--param {item!r}: none of {', '.join(models)} has a parameter {key!r}")
        for m in takers:
            out[m].append(item)
    return out


def run_cv(
    run: Path,
    models: Sequence[str],
    horizon: int,
    *,
    n_splits: int = 5,
    method: str = "purged",
    test_groups: int = 2,
    tune: int = 0,
    params: Sequence[str] = (),
    executor: str = "local",
    seed: int | None = None,
    n_jobs: int = 1,
    progress: Callable[[str], None] = lambda msg: None,
) -> dict[str, Any]:
    if not models:
        raise ConfigError("--models: give at least one model name, e.g. --models lightgbm,logistic")
    data = RunData(run)
    seed = int(data.manifest.get("seed", 0) if seed is None else seed)
    clock = training_clock(data, horizon)
    embargo_ns = int(data.splits["embargo_ns"])
    folds = make_folds(clock, method, n_splits, embargo_ns, test_groups)
    cv_dir = data.run.root / "cv"
    cv_dir.mkdir(exist_ok=True)
    folds_path = cv_dir / f"{method}_k{n_splits}_h{horizon}.json"
    folds_path.write_text(
        json.dumps(
            {"method": method, "embargo_ns": embargo_ns, "folds": folds_to_json(folds, clock.ts)}, indent=2
        )
    )
    kind = {"local": "inprocess", "process": "processes"}.get(executor)
    if kind is None:
        raise ConfigError(f"--executor {executor!r}: use local or process")
    summary: dict[str, Any] = {
        "method": method,
        "n_splits": n_splits,
        "horizon": horizon,
        "folds_file": str(folds_path),
        "models": {},
    }
    per_model = params_per_model(models, params)
    with make_executor(kind, max_workers=max(1, n_jobs)) as ex:
        for name in models:
            cfg = resolve_config(name, params=per_model[name])
            md = build_model_data(data, cfg, horizon)
            rows = md.rows("train")
            dataset = md.dataset.subset(rows)
            out = data.run.model_dir(name, horizon)
            entry: dict[str, Any] = {}
            if tune:
                progress(f"cv: tune {name} ({tune} trials, {method}, k={n_splits})")
                result = tune_config(
                    cfg, dataset, folds, ex, n_trials=tune, seed=seed, t1=clock.t1,
                    clock_ts=clock.ts, embargo_ns=embargo_ns, inner_val_frac=INNER_VAL_FRAC,
                )  # fmt: skip
                write_best_params(result, out)
                cfg = apply_overrides(cfg, [f"{k}={json.dumps(v)}" for k, v in result.best_params.items()])
                entry["tuned"] = {
                    "trials": tune,
                    "best_log_loss": result.best_value,
                    "best_params": result.best_params,
                }
            progress(
                f"cv: {name} OOF on {len(folds)} folds ({md.coverage['by_split']['train']:,} training rows)"
            )
            oof = generate_oof(
                cfg.model_cls, cfg.params, dataset, folds, ex, seed, INNER_VAL_FRAC,
                t1=clock.t1, clock_ts=clock.ts, embargo_ns=embargo_ns, n_jobs=1,
                selector=FeatureSelector.for_model(name, cfg.model_cls.family, seed),
            )  # fmt: skip
            write_oof(oof, out)
            loss, prior = oof_log_loss(oof.frame, clock)
            entry |= {
                "oof_log_loss": loss,
                "prior_log_loss": prior,
                "coverage": oof.coverage.fraction,
                "folds": len(folds),
            }
            summary["models"][name] = entry
    (cv_dir / f"summary_{method}_k{n_splits}_h{horizon}.json").write_text(
        json.dumps(summary, indent=2, sort_keys=True)
    )
    return summary
