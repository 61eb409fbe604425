"""`mlfactory train`: fit one model on the training split, early-stop on validation, evaluate val and test.

Writes ``RUN/models/<name>_h<H>/``: the model files (safe formats + hash manifest), ``routing.json``
(the timeframe, MTF strategy and the exact feature columns the model received, and its coverage of
the decision clock), ``metrics.json``, ``predictions_{val,test}.parquet`` and ``equity_test.parquet``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from mlfactory.errors import DataError
from mlfactory.evaluation import class_frequencies
from mlfactory.models.base import Model
from mlfactory.models.config import ModelConfig, apply_overrides, load_model_config
from mlfactory.run_dir import stable_hash
from mlfactory.selection.step import FeatureSelector
from mlfactory.training.evaluate import evaluate_split
from mlfactory.training.model_data import ModelData, build_model_data
from mlfactory.training.overfitting_stats import run_trial_sharpes, trial_id_of
from mlfactory.training.run_data import RunData

Progress = Callable[[str], None]


@dataclass(frozen=True)
class TrainResult:
    directory: Path
    metrics: dict[str, Any]
    model: Model


def resolve_config(
    name: str,
    *,
    params: Sequence[str] = (),
    timeframe: str | None = None,
    feature_set: str | None = None,
    config_path: Path | None = None,
) -> ModelConfig:
    """The model's YAML (or class defaults) with the call's overrides applied and validated."""
    cfg = load_model_config(name, config_path)
    return apply_overrides(cfg, params, timeframe=timeframe, feature_set=feature_set)


def routing_record(cfg: ModelConfig, md: ModelData) -> dict[str, Any]:
    cls = cfg.model_cls
    return {
        "model": cfg.model,
        "family": cls.family.value,
        "input": cls.input_kind.value,
        "timeframe": cfg.timeframe,
        "mtf_strategy": cfg.mtf_strategy.value,
        "mtf_timeframes": list(cfg.mtf_timeframes),
        "feature_set": cfg.feature_set,
        "n_features": len(md.feature_names),
        "features": list(md.feature_names),
        "coverage": md.coverage,
        "config_source": cfg.source,
        "params": cfg.params.model_dump(mode="json"),
    }


def select_features(md: ModelData, cfg: ModelConfig, seed: int, cache: Path | None = None) -> ModelData:
    """Apply the model's feature budget, chosen on the training split's rows only (selection/step.py).

    With ``cache`` (a JSON path, e.g. ``RUN/selection/<model>_<tf>_h<H>.json``) the choice is reused
    when the candidates, the training rows and the selector are unchanged.
    """
    selector = FeatureSelector.for_model(cfg.model, cfg.model_cls.family, seed)
    if selector is None:
        return md
    train = md.dataset.subset(md.rows("train"))
    key = stable_hash(
        {"names": md.feature_names, "ts": hashlib.sha256(train.timestamps.tobytes()).hexdigest(),
         "y": hashlib.sha256(train.y.tobytes()).hexdigest(), "selector": selector.__dict__}
    )  # fmt: skip
    cached = json.loads(cache.read_text()) if cache is not None and cache.is_file() else None
    if cached is not None and cached.get("key") == key:
        cols = np.array([md.feature_names.index(f) for f in cached["selected"]])
    else:
        cols = selector.select(train)
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(
                json.dumps({"key": key, "selected": [md.feature_names[i] for i in cols]}, indent=2)
            )
    if len(cols) == len(md.feature_names):
        return md
    names = tuple(md.feature_names[i] for i in cols)
    coverage = md.coverage | {"selection": {"candidates": len(md.feature_names), "selected": len(cols),
                                            "budget": [selector.min_features, selector.max_features], "method": "mdi"}}  # fmt: skip
    return replace(md, dataset=md.dataset.select_columns(cols), feature_names=names, coverage=coverage)


def selection_cache_path(data: RunData, cfg: ModelConfig, horizon: int) -> Path:
    return data.run.root / "selection" / f"{cfg.model}_{cfg.timeframe}_h{horizon}.json"


def split_datasets(md: ModelData) -> dict[str, np.ndarray]:
    rows = {s: md.rows(s) for s in ("train", "val", "test")}
    for split, idx in rows.items():
        if len(idx) == 0:
            raise DataError(
                f"no {split} rows for this model after alignment (coverage {md.coverage}); "
                "use more data or a finer timeframe / shorter warm-up"
            )
    return rows


def fit_and_evaluate(
    data: RunData, cfg: ModelConfig, horizon: int, *, seed: int, n_jobs: int = 1
) -> tuple[Model, ModelData, dict[str, Any], dict[str, Any]]:
    """Fit on train (early stopping on val) and evaluate on val and test; return model, data, metrics, evaluations."""
    md = select_features(
        build_model_data(data, cfg, horizon), cfg, seed, selection_cache_path(data, cfg, horizon)
    )
    rows = split_datasets(md)
    train, val = md.dataset.subset(rows["train"]), md.dataset.subset(rows["val"])
    t0 = time.perf_counter()
    model = cfg.model_cls(cfg.params, seed=seed, n_jobs=n_jobs).fit(train, val)
    fit_seconds = time.perf_counter() - t0
    freqs = class_frequencies(train.y)
    trials = run_trial_sharpes(data.run.root, exclude=data.run.model_dir(cfg.model, horizon))
    evaluations = {}
    for split in ("val", "test"):
        idx = rows[split]
        proba = model.predict_proba(md.dataset.x.subset(idx))
        evaluations[split] = evaluate_split(
            data,
            horizon,
            md.timestamps[idx],
            proba,
            md.dataset.y[idx],
            md.ret[idx],
            freqs,
            other_trials=trials,
            trial_id=trial_id_of(data.run.model_dir(cfg.model, horizon)) if split == "test" else None,
        )
    metrics = {
        "model": cfg.model,
        "horizon": horizon,
        "family": cfg.model_cls.family.value,
        "timeframe": cfg.timeframe,
        "feature_set": cfg.feature_set,
        "n_features": len(md.feature_names),
        "seed": seed,
        "rows": {s: len(i) for s, i in rows.items()},
        "fit_seconds": round(fit_seconds, 3),
        "classification": {s: e.classification for s, e in evaluations.items()},
        "trading": {s: e.trading for s, e in evaluations.items()},
        "signal": {s: e.signal for s, e in evaluations.items()},
        "overfitting": {
            "dsr": evaluations["test"].trading["deflated_sharpe"]["dsr"],
            "deflated_sharpe": evaluations["test"].trading["deflated_sharpe"],
        },
    }
    return model, md, metrics, evaluations


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
    progress(
        f"train {name} (h{horizon}) on {cfg.timeframe}, {cfg.mtf_strategy.value}, feature set {cfg.feature_set}"
    )
    model, md, metrics, evaluations = fit_and_evaluate(data, cfg, horizon, seed=seed, n_jobs=n_jobs)
    out = data.run.model_dir(name, horizon)
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / "model")
    (out / "routing.json").write_text(json.dumps(routing_record(cfg, md), indent=2))
    write_metrics(out, metrics)
    for split, ev in evaluations.items():
        ev.predictions.write_parquet(out / f"predictions_{split}.parquet")
    evaluations["test"].equity.write_parquet(out / "equity_test.parquet")
    return TrainResult(out, metrics, model)


def write_metrics(directory: Path, metrics: dict[str, Any]) -> Path:
    path = Path(directory) / "metrics.json"
    path.write_text(json.dumps(metrics, indent=2, sort_keys=True, default=_json_default))
    return path


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
