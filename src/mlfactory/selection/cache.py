"""Selection results cached per (model, timeframe, horizon) as JSON, e.g. ``RUN/selection/catboost_15m_h20.json``.

Each file stores the key it was computed for: a sha256 of the candidate names, the training
timestamps, the parameters and a fingerprint of the training arrays. A lookup with another key
(new data, other folds, other parameters) misses, and the fresh result replaces the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mlfactory.errors import ArtifactError, ConfigError
from mlfactory.selection._common import check_positive_int
from mlfactory.selection.walk_forward import SelectionResult
from mlfactory.timeframes import check_timeframe

_MODEL_RE = re.compile(r"^[A-Za-z0-9_\-]+$")
FORMAT_VERSION = 1


def selection_key(
    *,
    feature_names: Sequence[str],
    train_timestamps: Iterable[np.ndarray],
    params: dict[str, Any],
    arrays: Iterable[np.ndarray | None] = (),
) -> str:
    """sha256 of everything a selection depends on.

    ``train_timestamps``: one int64 array per fold (its training rows' timestamps), so other folds
    give another key even over the same rows; ``arrays``: training-row data (X, y, weights, t1).
    """
    h = hashlib.sha256()
    h.update(json.dumps({"v": FORMAT_VERSION, "features": list(feature_names), "params": params},
                        sort_keys=True, default=str).encode())  # fmt: skip
    for tag, group in (("ts", train_timestamps), ("arr", arrays)):
        for a in group:
            h.update(tag.encode())
            if a is None:
                h.update(b"none")
                continue
            a = np.ascontiguousarray(a)
            h.update(f"{a.dtype.str}{a.shape}".encode())
            h.update(a.tobytes())
    return h.hexdigest()


class SelectionCache:
    """JSON files ``<directory>/<model>_<timeframe>_h<horizon>.json`` holding one keyed result each."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)

    def path(self, model: str, timeframe: str, horizon: int) -> Path:
        if not isinstance(model, str) or not _MODEL_RE.match(model):
            raise ConfigError(f"model: expected a model name of letters, digits, '_' or '-', got {model!r}")
        check_timeframe(timeframe)
        horizon = check_positive_int(horizon, "horizon")
        return self.directory / f"{model}_{timeframe}_h{horizon}.json"

    def load(self, model: str, timeframe: str, horizon: int, key: str) -> SelectionResult | None:
        """The stored result when its key equals ``key``; None when absent or stale."""
        path = self.path(model, timeframe, horizon)
        if not path.is_file():
            return None
        try:
            record = json.loads(path.read_text())
            stored_key = record["key"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ArtifactError(
                f"{path}: unreadable selection cache ({exc!r}); delete the file to recompute it"
            ) from exc
        if stored_key != key:
            return None
        return SelectionResult.from_dict(record.get("result"))

    def store(self, model: str, timeframe: str, horizon: int, key: str, result: SelectionResult) -> Path:
        """Write ``result`` under ``key`` (atomically: a crash never leaves half a file)."""
        path = self.path(model, timeframe, horizon)
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "model": model,
            "timeframe": timeframe,
            "horizon": horizon,
            "key": key,
            "result": result.as_dict(),
        }
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(record, indent=1))
        os.replace(tmp, path)
        return path

    def get_or_compute(
        self, model: str, timeframe: str, horizon: int, key: str, compute: Callable[[], SelectionResult]
    ) -> tuple[SelectionResult, bool]:
        """``(result, hit)``: the cached result for ``key``, or ``compute()`` stored under it."""
        cached = self.load(model, timeframe, horizon, key)
        if cached is not None:
            return cached, True
        result = compute()
        self.store(model, timeframe, horizon, key, result)
        return result, False
