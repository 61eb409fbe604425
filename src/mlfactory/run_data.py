"""Read-only access to a run directory's dataset: bars, features, labels, splits, the decision clock.

Each file is read once per ``RunData``; training, evaluation and reports read runs through it.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Any

import polars as pl

from mlfactory.data.instruments import Instrument
from mlfactory.errors import ArtifactError
from mlfactory.run_dir import RunDir, verify_run_file
from mlfactory.training.clock import DecisionClock


class RunData:
    """The dataset half of a run (written by ``pipeline run``), with per-file caching."""

    def __init__(self, root: Path) -> None:
        self.run = RunDir(Path(root))
        self.manifest = self.run.require()
        self._labels: dict[int, pl.DataFrame] = {}
        self._features: dict[str, pl.DataFrame] = {}
        self._bars: dict[str, pl.DataFrame] = {}
        self._clocks: dict[int, DecisionClock] = {}

    @cached_property
    def instrument(self) -> Instrument:
        return Instrument.model_validate(self.manifest["instrument"])

    @cached_property
    def splits(self) -> dict[str, Any]:
        if not self.run.splits_path.is_file():
            raise ArtifactError(
                f"{self.run.splits_path}: missing; rerun `mlfactory pipeline run` for this run"
            )
        try:
            splits = json.loads(verify_run_file(self.run, self.manifest, self.run.splits_path).read_text())
            int(splits["embargo_ns"]), str(splits["decision_timeframe"])
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ArtifactError(
                f"{self.run.splits_path}: unreadable or incomplete ({exc}); rebuild it with "
                "`mlfactory pipeline run --force`"
            ) from None
        return splits

    @property
    def decision_timeframe(self) -> str:
        return self.splits["decision_timeframe"]

    @property
    def embargo_ns(self) -> int:
        return int(self.splits["embargo_ns"])

    def clock(self, horizon: int) -> DecisionClock:
        """The decision clock of ``horizon``: every labelled decision with its t1, label, weight, return, split."""
        if horizon not in self._clocks:
            self._clocks[horizon] = DecisionClock.from_labels(self.labels(horizon), horizon)
        return self._clocks[horizon]

    @property
    def horizons(self) -> list[int]:
        return [int(h) for h in self.splits["horizons"]]

    @property
    def feature_timeframes(self) -> list[str]:
        return sorted(p.stem for p in (self.run.root / "features").glob("*.parquet"))

    def labels(self, horizon: int) -> pl.DataFrame:
        if horizon not in self._labels:
            path = self.run.labels_path(horizon)
            if not path.is_file():
                raise ArtifactError(
                    f"{path}: no labels for horizon {horizon}; the run has horizons {self.horizons} "
                    "(set labels.horizons in the pipeline config and rerun `pipeline run`)"
                )
            self._labels[horizon] = read_run_parquet(verify_run_file(self.run, self.manifest, path))
        return self._labels[horizon]

    def features(self, tf: str) -> pl.DataFrame:
        if tf not in self._features:
            path = self.run.features_path(tf)
            if not path.is_file():
                raise ArtifactError(
                    f"{path}: the run has no features on {tf} (it has {', '.join(self.feature_timeframes)}); "
                    "add it to features.timeframes in the pipeline config and rerun `pipeline run`"
                )
            self._features[tf] = read_run_parquet(verify_run_file(self.run, self.manifest, path))
        return self._features[tf]

    def bars(self, tf: str) -> pl.DataFrame:
        if tf not in self._bars:
            path = self.run.bars_path(tf)
            if not path.is_file():
                raise ArtifactError(
                    f"{path}: the run has no {tf} bars; add {tf} to ladder.timeframes and rerun"
                )
            self._bars[tf] = read_run_parquet(verify_run_file(self.run, self.manifest, path))
        return self._bars[tf]


def read_run_parquet(path: Path) -> pl.DataFrame:
    """A Parquet file of the run's dataset; a truncated or corrupt one is an error that says how to rebuild it."""
    try:
        return pl.read_parquet(path)
    except (pl.exceptions.ComputeError, pl.exceptions.PolarsError, OSError) as exc:
        raise ArtifactError(
            f"{path}: cannot be read ({str(exc).splitlines()[0]}); the file is truncated or corrupt — rebuild the "
            "run's dataset with `mlfactory pipeline run --force`"
        ) from None
