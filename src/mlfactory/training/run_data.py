"""Read-only access to a run directory's dataset: labels, features, bars, splits — loaded once."""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Any

import polars as pl

from mlfactory.data.instruments import Instrument
from mlfactory.errors import ArtifactError
from mlfactory.run_dir import RunDir, verify_run_file


class RunData:
    """The dataset half of a run (written by ``pipeline run``), with per-file caching."""

    def __init__(self, root: Path) -> None:
        self.run = RunDir(Path(root))
        self.manifest = self.run.require()
        self._labels: dict[int, pl.DataFrame] = {}
        self._features: dict[str, pl.DataFrame] = {}
        self._bars: dict[str, pl.DataFrame] = {}

    @cached_property
    def instrument(self) -> Instrument:
        return Instrument.model_validate(self.manifest["instrument"])

    @cached_property
    def splits(self) -> dict[str, Any]:
        if not self.run.splits_path.is_file():
            raise ArtifactError(
                f"{self.run.splits_path}: missing; rerun `mlfactory pipeline run` for this run"
            )
        return json.loads(verify_run_file(self.run, self.manifest, self.run.splits_path).read_text())

    @property
    def decision_timeframe(self) -> str:
        return self.splits["decision_timeframe"]

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
            self._labels[horizon] = pl.read_parquet(verify_run_file(self.run, self.manifest, path))
        return self._labels[horizon]

    def features(self, tf: str) -> pl.DataFrame:
        if tf not in self._features:
            path = self.run.features_path(tf)
            if not path.is_file():
                raise ArtifactError(
                    f"{path}: the run has no features on {tf} (it has {', '.join(self.feature_timeframes)}); "
                    "add it to features.timeframes in the pipeline config and rerun `pipeline run`"
                )
            self._features[tf] = pl.read_parquet(verify_run_file(self.run, self.manifest, path))
        return self._features[tf]

    def bars(self, tf: str) -> pl.DataFrame:
        if tf not in self._bars:
            path = self.run.bars_path(tf)
            if not path.is_file():
                raise ArtifactError(
                    f"{path}: the run has no {tf} bars; add {tf} to ladder.timeframes and rerun"
                )
            self._bars[tf] = pl.read_parquet(verify_run_file(self.run, self.manifest, path))
        return self._bars[tf]
