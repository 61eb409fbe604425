"""The decision clock: one row per decision time, with everything training attaches to it.

Every model of a run predicts at these timestamps, against these labels, on these splits
(DESIGN.md invariant 2). The clock is built once from a labels file (which already carries the
split of each row, derived from the timestamp boundaries in ``splits.json``) and then only
indexed: folds, OOF rows, stacked rows and evaluations all refer to clock rows by timestamp.
Inference has no clock of this kind — it predicts on the bare decision timestamps of new bars.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import polars as pl

from mlfactory.errors import DataError

SPLITS = ("train", "val", "test")


def epoch_ns(series: pl.Series) -> np.ndarray:
    return series.dt.epoch("ns").to_numpy()


@dataclass(frozen=True)
class DecisionClock:
    """Decision timestamps with label end ``t1``, label, sample weight, label return and split."""

    ts: np.ndarray  # int64 ns, strictly increasing
    t1: np.ndarray  # int64 ns, label end of each decision
    y: np.ndarray  # int8 in {-1, 0, 1}
    weight: np.ndarray
    ret: np.ndarray
    split: np.ndarray  # "train" | "val" | "test" | "excluded"
    horizon: int

    def __post_init__(self) -> None:
        n = self.ts.size
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray) and value.shape != (n,):
                raise DataError(f"decision clock: {f.name} has shape {value.shape}, expected ({n},)")
        if n > 1 and (np.diff(self.ts) <= 0).any():
            raise DataError("decision clock: timestamps must be strictly increasing")

    @classmethod
    def from_labels(cls, labels: pl.DataFrame, horizon: int) -> DecisionClock:
        """The clock of one horizon's labels file (``RUN/labels/h<H>.parquet``)."""
        return cls(
            epoch_ns(labels["timestamp"]),
            epoch_ns(labels["t1"]),
            labels["label"].to_numpy().astype(np.int8),
            labels["weight"].to_numpy().astype(np.float64),
            labels["ret"].to_numpy().astype(np.float64),
            labels["split"].to_numpy().astype(str),
            int(horizon),
        )

    @classmethod
    def from_arrays(
        cls, ts: np.ndarray, t1: np.ndarray, y: np.ndarray | None = None, horizon: int = 0
    ) -> DecisionClock:
        """A training-only clock from bare arrays (unit tests, benchmarks): unit weights, zero returns."""
        ts = np.asarray(ts, dtype=np.int64)
        n = ts.size
        return cls(
            ts,
            np.asarray(t1, dtype=np.int64),
            np.zeros(n, np.int8) if y is None else np.asarray(y, dtype=np.int8),
            np.ones(n),
            np.zeros(n),
            np.full(n, "train"),
            horizon,
        )

    def __len__(self) -> int:
        return int(self.ts.size)

    def rows(self, split: str) -> np.ndarray:
        return np.flatnonzero(self.split == split)

    def subset(self, rows: np.ndarray) -> DecisionClock:
        return DecisionClock(
            self.ts[rows], self.t1[rows], self.y[rows], self.weight[rows], self.ret[rows],
            self.split[rows], self.horizon,
        )  # fmt: skip

    def restrict(self, split: str) -> DecisionClock:
        """The clock rows of one split, in time order."""
        return self.subset(self.rows(split))

    def rows_of(self, ts: np.ndarray) -> np.ndarray:
        """Clock row of each timestamp in ``ts``; every one must be on the clock."""
        ts = np.asarray(ts, dtype=np.int64)
        pos = np.searchsorted(self.ts, ts)
        ok = (pos < self.ts.size) & (self.ts[np.minimum(pos, max(self.ts.size - 1, 0))] == ts)
        if not ok.all():
            raise DataError(
                f"{int((~ok).sum())} timestamps are not on the decision clock; predictions must be made at "
                "the run's decision timestamps"
            )
        return pos

    def class_priors(self) -> np.ndarray:
        """Class frequencies (short, neutral, long) of the clock's labels."""
        return np.array([(self.y == c).mean() for c in (-1, 0, 1)], dtype=np.float64)
