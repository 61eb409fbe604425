"""Content-addressed job store: ``RUN/jobs/<key>/`` holds one finished job; a re-run skips it.

A job's key is the sha256 of everything its result depends on (the data files it reads by their
sha256, the resolved model config and routing, the dataset's decision timestamps, the fold's rows,
the seed, the package version), so a changed input gives a new key and an unchanged one finds its
result — whichever command computed it (`grid` and its ensemble recipes share the keys,
``training.grid_jobs``). A job writes its own
result from inside the worker: ``predictions.parquet`` and ``record.json`` (wall time, peak memory,
node, key) go into a temporary sibling directory, then ``complete`` — the sha256 of both files —
is written last, and the directory is renamed into place whole. A job killed mid-write leaves only
a ``.tmp-*`` directory, which no reader accepts; a complete result whose files no longer match
their hashes counts as absent and is recomputed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from mlfactory import __version__
from mlfactory.artifacts import sha256_file
from mlfactory.errors import ArtifactError
from mlfactory.run_dir import stable_hash

JOBS_DIR = "jobs"
PREDICTIONS = "predictions.parquet"
RECORD = "record.json"
COMPLETE = "complete"


def job_key(parts: dict[str, Any]) -> str:
    """The content key of a job: sha256 of its dependencies (JSON, sorted keys) and the package version."""
    return stable_hash({"mlfactory": __version__, **parts})


def array_digest(*arrays: Any) -> str:
    """sha256 over the bytes of numpy arrays (None counts as empty), for row sets in a key."""
    h = hashlib.sha256()
    for a in arrays:
        h.update(b"|" if a is None else a.tobytes())
    return h.hexdigest()


@dataclass(frozen=True)
class JobResult:
    key: str
    predictions: pl.DataFrame
    record: dict[str, Any]


class JobStore:
    """Finished jobs of one run by content key (``RUN/jobs``)."""

    def __init__(self, run_root: Path) -> None:
        self.root = Path(run_root) / JOBS_DIR

    def path(self, key: str) -> Path:
        return self.root / key

    def is_complete(self, key: str) -> bool:
        """Whether ``key`` has a complete result whose files match the hashes written with it."""
        return self._verified(key) is not None

    def _verified(self, key: str) -> dict[str, str] | None:
        d = self.path(key)
        marker = d / COMPLETE
        if not marker.is_file():
            return None
        try:
            hashes = json.loads(marker.read_text())
        except json.JSONDecodeError:
            return None
        for name in (PREDICTIONS, RECORD):
            f = d / name
            if not f.is_file() or sha256_file(f) != hashes.get(name):
                return None
        return hashes

    def write(self, key: str, predictions: pl.DataFrame, record: dict[str, Any]) -> Path:
        """Write one job's result atomically (temporary directory, ``complete`` last, then rename)."""
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".tmp-{key}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            predictions.write_parquet(tmp / PREDICTIONS)
            (tmp / RECORD).write_text(json.dumps({**record, "key": key}, indent=2, sort_keys=True))
            hashes = {name: sha256_file(tmp / name) for name in (PREDICTIONS, RECORD)}
            _write_synced(tmp / COMPLETE, json.dumps(hashes, indent=2, sort_keys=True))
            final = self.path(key)
            if final.exists() and not self.is_complete(key):
                shutil.rmtree(final)  # a stale or damaged result: replaced whole
            try:
                os.rename(tmp, final)
            except OSError:
                if not self.is_complete(key):  # another worker finished the same key first: keep it
                    raise
                shutil.rmtree(tmp)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return final

    def read(self, key: str) -> JobResult:
        """A complete result, or ``ArtifactError`` naming the directory and how to rebuild it."""
        if self._verified(key) is None:
            raise ArtifactError(
                f"{self.path(key)}: no complete job result (missing, interrupted or modified); "
                "rerun `mlfactory grid` on this run to compute it"
            )
        d = self.path(key)
        return JobResult(key, pl.read_parquet(d / PREDICTIONS), json.loads((d / RECORD).read_text()))

    def record(self, key: str) -> dict[str, Any]:
        return json.loads((self.path(key) / RECORD).read_text())

    def clean_temporaries(self) -> int:
        """Remove ``.tmp-*`` directories left by killed jobs; returns how many."""
        if not self.root.is_dir():
            return 0
        stale = [p for p in self.root.glob(".tmp-*") if p.is_dir()]
        for p in stale:
            shutil.rmtree(p, ignore_errors=True)
        return len(stale)


def _write_synced(path: Path, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
