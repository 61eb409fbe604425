"""The content-addressed job store: keys follow the inputs; only complete, unmodified results count."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from mlfactory.errors import ArtifactError
from mlfactory.runtime.jobs import COMPLETE, PREDICTIONS, RECORD, JobStore, array_digest, job_key


def frame(v: float = 0.5) -> pl.DataFrame:
    return pl.DataFrame({"row": [1, 2], "p_long": [v, 1 - v]})


def test_key_is_stable_and_changes_with_every_dependency():
    parts = {
        "model": "lightgbm",
        "seed": 7,
        "rows": array_digest(np.arange(5)),
        "inputs": {"labels/h5": "ab"},
    }
    assert job_key(parts) == job_key(dict(reversed(list(parts.items()))))
    for change in ({"seed": 8}, {"rows": array_digest(np.arange(6))}, {"inputs": {"labels/h5": "ac"}}):
        assert job_key({**parts, **change}) != job_key(parts)
    assert array_digest(np.arange(3), None) != array_digest(None, np.arange(3))


def test_write_then_read_round_trips(tmp_path):
    store = JobStore(tmp_path)
    key = job_key({"a": 1})
    assert not store.is_complete(key)
    store.write(key, frame(), {"wall_seconds": 1.5})
    assert store.is_complete(key)
    got = store.read(key)
    assert got.predictions.equals(frame()) and got.record == {"wall_seconds": 1.5, "key": key}
    assert not list(store.root.glob(".tmp-*"))


def test_result_without_marker_or_with_modified_files_is_not_accepted(tmp_path):
    store = JobStore(tmp_path)
    key = job_key({"a": 2})
    store.write(key, frame(), {"n": 1})
    (store.path(key) / COMPLETE).unlink()  # as if killed before the marker
    assert not store.is_complete(key)
    with pytest.raises(ArtifactError, match="no complete job result"):
        store.read(key)
    store.write(key, frame(0.25), {"n": 2})  # the damaged directory is replaced whole
    assert store.read(key).record["n"] == 2
    path = store.path(key) / PREDICTIONS
    path.write_bytes(path.read_bytes()[:-10])  # truncated after the marker was written
    assert not store.is_complete(key)
    (store.path(key) / RECORD).write_text(json.dumps({"n": 3}))
    assert not store.is_complete(key)


def test_killed_writes_leave_only_temporaries_which_are_cleaned(tmp_path):
    store = JobStore(tmp_path)
    stale = store.root / ".tmp-deadbeef-1234"
    stale.mkdir(parents=True)
    (stale / PREDICTIONS).write_bytes(b"partial")
    assert not store.is_complete("deadbeef")
    assert store.clean_temporaries() == 1 and not stale.exists()


def test_failed_write_leaves_nothing(tmp_path):
    store = JobStore(tmp_path)

    class Broken(pl.DataFrame):
        def write_parquet(self, *a, **k):
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        store.write("k", Broken({"a": [1]}), {})
    assert not store.path("k").exists() and not list(store.root.glob(".tmp-*"))
