"""Feature selection as a fit-on-train step: the per-family budget, enforced inside every fit.

``FeatureSelector.select`` sees only the rows a model is about to be fitted on — a fold's training
part during OOF, the training split for the final fit — so the choice of features is strictly
nested and never looks at the rows being predicted. Within budget, every candidate is kept; above
it, the top ``max_features`` by MDI importance (a seeded forest on the training rows; for window
inputs, on each window's last step) are kept; below ``min_features`` is an error naming the model.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from mlfactory.errors import ConfigError
from mlfactory.models.base import Dataset, Family
from mlfactory.run_dir import stable_hash
from mlfactory.selection.budgets import FeatureBudget, feature_budget
from mlfactory.selection.importance import mdi_importance

MAX_SELECTION_ROWS = 20_000


@dataclass(frozen=True)
class FeatureSelector:
    model: str
    min_features: int
    max_features: int
    seed: int = 0
    n_estimators: int = 100

    @classmethod
    def for_model(cls, model: str, family: Family, seed: int = 0) -> FeatureSelector | None:
        """The model's budget as a selector, or None for families without a budget (no selection)."""
        try:
            budget: FeatureBudget = feature_budget(model, family)
        except ConfigError:
            return None
        return cls(model, budget.min_features, budget.max_features, seed)

    def select(self, train: Dataset) -> np.ndarray:
        """Column indices (sorted) to keep, chosen on ``train`` only."""
        names = train.x.feature_names
        n = len(names)
        if n < self.min_features:
            raise ConfigError(
                f"model {self.model!r}: {n} candidate features, below its budget of {self.min_features}-{self.max_features}; "
                "choose a richer feature set or timeframe in its config"
            )
        if n <= self.max_features:
            return np.arange(n)
        x = _tabular_proxy(train)
        rows = np.arange(len(train))
        if len(rows) > MAX_SELECTION_ROWS:
            rows = np.sort(np.random.default_rng(self.seed).choice(rows, MAX_SELECTION_ROWS, replace=False))
        imp = mdi_importance(
            x[rows], train.y[rows], names,
            sample_weight=None if train.sample_weight is None else train.sample_weight[rows],
            n_estimators=self.n_estimators, seed=self.seed,
        )  # fmt: skip
        score = np.nan_to_num(np.asarray(imp.mean, dtype=np.float64), nan=0.0)
        top = np.argsort(-score, kind="stable")[: self.max_features]
        return np.sort(top)

    def select_cached(self, train: Dataset, cache: Path | None) -> np.ndarray:
        """``select`` with its result kept in ``cache`` (JSON), reused while candidates, rows and selector match."""
        names = list(train.x.feature_names)
        key = stable_hash(
            {"names": names, "ts": hashlib.sha256(np.asarray(train.timestamps).tobytes()).hexdigest(),
             "y": hashlib.sha256(np.asarray(train.y).tobytes()).hexdigest(), "selector": asdict(self)}
        )  # fmt: skip
        if cache is not None and cache.is_file():
            cached = json.loads(cache.read_text())
            if cached.get("key") == key and set(cached.get("selected", [])) <= set(names):
                return np.array([names.index(f) for f in cached["selected"]], dtype=np.int64)
        cols = self.select(train)
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps({"key": key, "selected": [names[i] for i in cols]}, indent=2))
        return cols


def _tabular_proxy(train: Dataset) -> np.ndarray:
    """A 2D matrix to rank columns: the rows themselves, or each window's last step."""
    view = train.x
    if view.ndim == 2:
        return np.asarray(view.x, dtype=np.float32)
    if view.ndim == 3:
        return np.asarray(view.values[view.ends], dtype=np.float32)
    return np.asarray(view.streams[0].values[view.streams[0].ends], dtype=np.float32)
