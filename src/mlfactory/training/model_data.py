"""A model's training data: its inputs on the run's decision clock, with labels, weights and splits.

``adapters.model_inputs`` builds what the model sees from bars and features alone; here the clock's
labels, sample weights, label ends, returns and splits are attached to the rows the model could
build. Coverage (decisions built per split) is reported, never filled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mlfactory.adapters.model_inputs import BarSource, build_model_inputs
from mlfactory.models.base import Dataset
from mlfactory.models.config import ModelConfig
from mlfactory.training.clock import SPLITS, DecisionClock


@dataclass(frozen=True)
class ModelData:
    """A model's dataset on the decision clock, with each row's label end, return and split."""

    dataset: Dataset
    t1: np.ndarray  # int64 ns, aligned with dataset rows
    split: np.ndarray  # "train" | "val" | "test" | "excluded"
    ret: np.ndarray
    feature_names: tuple[str, ...]
    coverage: dict[str, Any]
    horizon: int

    @property
    def timestamps(self) -> np.ndarray:
        return self.dataset.timestamps

    def rows(self, split: str) -> np.ndarray:
        return np.flatnonzero(self.split == split)


def build_model_data(
    source: BarSource, cfg: ModelConfig, clock: DecisionClock, *, seq_len: int | None = None
) -> ModelData:
    """``cfg``'s inputs at the clock's decisions, labelled from the clock."""
    inputs = build_model_inputs(source, cfg, clock.ts, seq_len=seq_len)
    keep = inputs.clock_rows
    split = clock.split[keep]
    coverage = {
        "decisions": len(clock),
        "built": int(keep.size),
        "fraction": round(keep.size / max(len(clock), 1), 4),
        "by_split": {s: int((split == s).sum()) for s in SPLITS},
        "dropped": len(clock) - int(keep.size),
    }
    dataset = Dataset(inputs.view, clock.y[keep], clock.weight[keep])
    return ModelData(
        dataset, clock.t1[keep], split, clock.ret[keep], inputs.feature_names, coverage, clock.horizon
    )
