"""Synthetic window data with a planted, learnable pattern, and tiny settings for every sequence model."""

from __future__ import annotations

from typing import Any

import numpy as np

from mlfactory.adapters.views import MultiStreamView, WindowView
from mlfactory.models.base import Dataset, InputKind
from mlfactory.models.registry import all_models

SEQUENCE_MODELS = tuple(
    name
    for name, cls in all_models().items()
    if cls.input_kind in (InputKind.SEQUENCE, InputKind.MULTISTREAM)
)
MULTISTREAM_MODELS = tuple(n for n in SEQUENCE_MODELS if all_models()[n].input_kind == InputKind.MULTISTREAM)

SEQ_LEN = 16
N_FEATURES = 4
MINUTE = 60_000_000_000

_COMMON: dict[str, Any] = {
    "seq_len": SEQ_LEN,
    "epochs": 12,
    "batch_size": 32,
    "lr": 3e-3,
    "patience": 12,
    "dropout": 0.0,
    "device": "cpu",
    "progress": False,
}
SMALL_PARAMS: dict[str, dict[str, Any]] = {
    "lstm": {"hidden": 16, "layers": 1},
    "gru": {"hidden": 16, "layers": 1, "pooling": "attention"},
    "tcn": {"channels": 8, "levels": 3},
    "transformer": {"d_model": 16, "heads": 2, "layers": 1, "d_ff": 32},
    "patchtst": {"patch_len": 4, "stride": 4, "d_model": 16, "heads": 2, "layers": 1, "d_ff": 32},
    "itransformer": {"d_model": 16, "heads": 2, "layers": 1, "d_ff": 32},
    "tft": {"hidden": 8, "heads": 2},
    "nbeats": {"stacks": 1, "blocks_per_stack": 2, "fc_layers": 2, "width": 32},
    "inceptiontime": {"filters": 4, "depth": 3, "kernel_size": 8, "bottleneck": 4},
    "resnet1d": {"filters": 8, "blocks": 2},
}


def small_params(name: str, **overrides: Any) -> dict[str, Any]:
    return {**_COMMON, **SMALL_PARAMS[name], **overrides}


def planted_values(
    y: np.ndarray, seed: int, seq_len: int = SEQ_LEN, n_features: int = N_FEATURES
) -> np.ndarray:
    """One block of ``seq_len`` rows per label: channel 0 trends up (1), down (-1) or stays flat (0).

    Every channel gets noise and a random level per block, so only the trend of channel 0 over the
    window carries the label — a pattern that survives per-window normalisation (RevIN).
    """
    rng = np.random.default_rng(seed)
    n = len(y)
    steps = np.arange(seq_len) - (seq_len - 1) / 2
    values = rng.normal(size=(n, seq_len, n_features)) + rng.normal(scale=3.0, size=(n, 1, n_features))
    values[:, :, 0] += 0.4 * y[:, None] * steps[None, :]
    return values.reshape(n * seq_len, n_features).astype(np.float32)


def block_view(values: np.ndarray, n: int, t0: int = 0, seq_len: int = SEQ_LEN) -> WindowView:
    """A view whose window ``i`` is exactly block ``i`` of ``values``."""
    ends = np.arange(n, dtype=np.int64) * seq_len + seq_len - 1
    ts = t0 + np.arange(n, dtype=np.int64) * MINUTE
    return WindowView(values, ends, seq_len, ts, tuple(f"f{j}" for j in range(values.shape[1])))


def planted_dataset(n: int, seed: int, streams: int = 0) -> Dataset:
    """``n`` labelled windows; with ``streams > 0`` a 4D view whose last stream carries the pattern."""
    rng = np.random.default_rng(seed)
    y = rng.integers(-1, 2, size=n).astype(np.int8)
    if streams == 0:
        return Dataset(block_view(planted_values(y, seed + 1), n), y)
    noise = [planted_values(np.zeros(n, dtype=np.int8), seed + 10 + s) for s in range(streams - 1)]
    views = tuple(block_view(v, n) for v in [*noise, planted_values(y, seed + 1)])
    return Dataset(MultiStreamView(views, tuple(f"s{s}" for s in range(streams))), y)


def log_loss(p: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y + 1], 1e-15, None))))
