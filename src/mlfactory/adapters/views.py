"""The three input shapes a model can receive, all indexed by decision timestamps.

Every view carries the decision timestamps it could build (int64 ns UTC), so every later step aligns
by timestamp, never by row position. Window views never copy the whole matrix per window: they keep
one ``(T, F)`` float32 array and, per decision, the row index of the window's last step; windows are
materialised batch by batch (``take``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mlfactory.errors import DataError


@dataclass(frozen=True)
class TabularView:
    """2D input: one row per decision timestamp, columns = the model's feature set."""

    x: np.ndarray  # (n, f) float32
    timestamps: np.ndarray  # (n,) int64 ns
    feature_names: tuple[str, ...]
    ndim: int = field(default=2, init=False)

    def __post_init__(self) -> None:
        if self.x.ndim != 2:
            raise DataError(f"TabularView.x must be 2D (rows, features), got shape {self.x.shape}")
        if len(self.timestamps) != self.x.shape[0]:
            raise DataError(f"TabularView: {len(self.timestamps)} timestamps for {self.x.shape[0]} rows")
        if len(self.feature_names) != self.x.shape[1]:
            raise DataError(
                f"TabularView: {len(self.feature_names)} feature names for {self.x.shape[1]} columns"
            )

    def __len__(self) -> int:
        return self.x.shape[0]

    @property
    def n_features(self) -> int:
        return self.x.shape[1]

    def subset(self, idx: np.ndarray) -> TabularView:
        return TabularView(self.x[idx], self.timestamps[idx], self.feature_names)

    def take(self, idx: np.ndarray) -> np.ndarray:
        return self.x[idx]

    def select_columns(self, cols: np.ndarray) -> TabularView:
        cols = np.asarray(cols)
        return TabularView(
            np.ascontiguousarray(self.x[:, cols]), self.timestamps, tuple(self.feature_names[i] for i in cols)
        )


@dataclass(frozen=True)
class WindowView:
    """3D input ``(n, seq_len, n_features)`` built lazily from ``values`` and window end rows.

    ``ends[i]`` is the row of ``values`` holding the last step of decision ``i``'s window; the window
    is ``values[ends[i] - seq_len + 1 : ends[i] + 1]``. The builder guarantees that this range holds no
    warm-up row and crosses no contract roll or multi-day gap, and that ``values[ends[i]]`` closed at or before
    ``timestamps[i]``.
    """

    values: np.ndarray  # (T, f) float32
    ends: np.ndarray  # (n,) int64
    seq_len: int
    timestamps: np.ndarray  # (n,) int64 ns
    feature_names: tuple[str, ...]
    ndim: int = field(default=3, init=False)

    def __post_init__(self) -> None:
        if self.values.ndim != 2:
            raise DataError(f"WindowView.values must be 2D (time, features), got shape {self.values.shape}")
        if len(self.ends) != len(self.timestamps):
            raise DataError(f"WindowView: {len(self.ends)} window ends for {len(self.timestamps)} timestamps")
        if self.seq_len < 1:
            raise DataError(f"WindowView.seq_len must be >= 1, got {self.seq_len}")
        if len(self.ends) and (self.ends.min() < self.seq_len - 1 or self.ends.max() >= self.values.shape[0]):
            raise DataError("WindowView: a window end falls outside the values array")

    def __len__(self) -> int:
        return len(self.ends)

    @property
    def n_features(self) -> int:
        return self.values.shape[1]

    def subset(self, idx: np.ndarray) -> WindowView:
        return WindowView(self.values, self.ends[idx], self.seq_len, self.timestamps[idx], self.feature_names)

    def select_columns(self, cols: np.ndarray) -> WindowView:
        cols = np.asarray(cols)
        return WindowView(
            np.ascontiguousarray(self.values[:, cols]), self.ends, self.seq_len, self.timestamps,
            tuple(self.feature_names[i] for i in cols),
        )  # fmt: skip

    def take(self, idx: np.ndarray) -> np.ndarray:
        """Materialise windows ``idx`` as ``(len(idx), seq_len, f)`` float32."""
        steps = self.ends[np.asarray(idx)][:, None] + np.arange(-self.seq_len + 1, 1)[None, :]
        return self.values[steps]


@dataclass(frozen=True)
class MultiStreamView:
    """4D input ``(n, n_streams, seq_len, n_channels)``: one ``WindowView`` per timeframe stream.

    All streams share the decision timestamps, ``seq_len`` and channel count.
    """

    streams: tuple[WindowView, ...]
    stream_names: tuple[str, ...]
    ndim: int = field(default=4, init=False)

    def __post_init__(self) -> None:
        if not self.streams:
            raise DataError("MultiStreamView needs at least one stream")
        first = self.streams[0]
        for name, s in zip(self.stream_names, self.streams, strict=True):
            if s.seq_len != first.seq_len or s.n_features != first.n_features:
                raise DataError(f"MultiStreamView: stream {name!r} has a different seq_len or channel count")
            if not np.array_equal(s.timestamps, first.timestamps):
                raise DataError(f"MultiStreamView: stream {name!r} has different decision timestamps")

    def __len__(self) -> int:
        return len(self.streams[0])

    @property
    def timestamps(self) -> np.ndarray:
        return self.streams[0].timestamps

    @property
    def seq_len(self) -> int:
        return self.streams[0].seq_len

    @property
    def n_features(self) -> int:
        return self.streams[0].n_features

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.streams[0].feature_names

    def subset(self, idx: np.ndarray) -> MultiStreamView:
        return MultiStreamView(tuple(s.subset(idx) for s in self.streams), self.stream_names)

    def select_columns(self, cols: np.ndarray) -> MultiStreamView:
        return MultiStreamView(tuple(s.select_columns(cols) for s in self.streams), self.stream_names)

    def take(self, idx: np.ndarray) -> np.ndarray:
        return np.stack([s.take(idx) for s in self.streams], axis=1)


ModelInput = TabularView | WindowView | MultiStreamView
