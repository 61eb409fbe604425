"""Fitting a model for good: its feature budget on the training split, early stopping on validation.

Shared by `train` (one model) and `train-ensemble` (the retrain stage), so both fit the same way.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from mlfactory.artifacts import atomic_write_parquet
from mlfactory.errors import DataError
from mlfactory.models.base import Model
from mlfactory.models.config import ModelConfig
from mlfactory.run_data import RunData
from mlfactory.selection.step import FeatureSelector
from mlfactory.training.evaluate import SplitEvaluation
from mlfactory.training.model_data import ModelData


def select_features(md: ModelData, cfg: ModelConfig, seed: int, cache: Path | None = None) -> ModelData:
    """Apply the model's feature budget, chosen on the training split's rows only (selection/step.py)."""
    selector = FeatureSelector.for_model(cfg.model, cfg.model_cls.family, seed)
    if selector is None:
        return md
    cols = selector.select_cached(md.dataset.subset(md.rows("train")), cache)
    if len(cols) == len(md.feature_names):
        return md
    names = tuple(md.feature_names[i] for i in cols)
    coverage = md.coverage | {"selection": {"candidates": len(md.feature_names), "selected": len(cols),
                                            "budget": [selector.min_features, selector.max_features], "method": "mdi"}}  # fmt: skip
    return replace(md, dataset=md.dataset.select_columns(cols), feature_names=names, coverage=coverage)


def selection_cache_path(data: RunData, cfg: ModelConfig, horizon: int) -> Path:
    return data.run.root / "selection" / f"{cfg.model}_{cfg.timeframe}_h{horizon}.json"


def final_model_data(data: RunData, cfg: ModelConfig, md: ModelData, seed: int) -> ModelData:
    """``md`` with the model's feature budget chosen on the training split (cached in ``RUN/selection``)."""
    return select_features(md, cfg, seed, selection_cache_path(data, cfg, md.horizon))


def split_rows(md: ModelData) -> dict[str, np.ndarray]:
    rows = {s: md.rows(s) for s in ("train", "val", "test")}
    for split, idx in rows.items():
        if len(idx) == 0:
            raise DataError(
                f"no {split} rows for this model after alignment (coverage {md.coverage}); "
                "use more data or a finer timeframe / shorter warm-up"
            )
    return rows


def fit_final(md: ModelData, cfg: ModelConfig, seed: int, n_jobs: int = 1) -> Model:
    """Fit on the training split, with the validation split for early stopping."""
    rows = split_rows(md)
    train, val = md.dataset.subset(rows["train"]), md.dataset.subset(rows["val"])
    return cfg.model_cls(cfg.params, seed=seed, n_jobs=n_jobs).fit(train, val)


def write_evaluations(directory: Path, evaluations: dict[str, SplitEvaluation]) -> None:
    for split, ev in evaluations.items():
        atomic_write_parquet(ev.predictions, directory / f"predictions_{split}.parquet")
    atomic_write_parquet(evaluations["test"].equity, directory / "equity_test.parquet")
