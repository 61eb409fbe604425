"""The run directory contract (see DESIGN.md) and its manifest.

``RUN/manifest.json`` records the config, the input file's sha256, package versions, the seed
and, per stage, a cache key, the outputs and the wall time. A stage whose key and outputs are
unchanged is skipped on the next ``pipeline run``.
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from mlfactory import __version__
from mlfactory.errors import ArtifactError

TRACKED_PACKAGES = (
    "numpy", "polars", "pyarrow", "pandas", "numba", "ta-lib", "pywavelets", "scikit-learn", "xgboost",
    "lightgbm", "catboost", "torch", "optuna", "pandas-market-calendars", "pydantic",
)  # fmt: skip


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "mlfactory": __version__}
    for name in TRACKED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def stable_hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class RunDir:
    root: Path

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    def bars_path(self, tf: str) -> Path:
        return self.root / "data" / f"bars_{tf}.parquet"

    def features_path(self, tf: str) -> Path:
        return self.root / "features" / f"{tf}.parquet"

    def labels_path(self, horizon: int) -> Path:
        return self.root / "labels" / f"h{horizon}.parquet"

    @property
    def splits_path(self) -> Path:
        return self.root / "splits.json"

    def model_dir(self, name: str, horizon: int) -> Path:
        return self.root / "models" / f"{name}_h{horizon}"

    def ensemble_dir(self, ensemble_id: str) -> Path:
        return self.root / "ensembles" / ensemble_id

    @property
    def report_path(self) -> Path:
        return self.root / "report.html"

    def read_manifest(self) -> dict[str, Any]:
        from mlfactory.jsonio import read_json
        from mlfactory.manifest import check_manifest

        if not self.manifest_path.is_file():
            return {}
        return check_manifest(read_json(self.manifest_path, "run manifest"), self.manifest_path)

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.manifest_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str))
        tmp.replace(self.manifest_path)

    def require(self) -> dict[str, Any]:
        """The manifest of an existing run, or a clear error."""
        if not self.manifest_path.is_file():
            raise ArtifactError(
                f"{self.root}: not a run directory (no manifest.json); create one with "
                "`mlfactory pipeline run --data FILE --symbol S --out RUN`"
            )
        from mlfactory.manifest import check_manifest

        return check_manifest(self.read_manifest(), self.manifest_path, complete=True)


class StageRecorder:
    """Records stage keys, outputs and timings into the manifest; tells whether a stage is cached."""

    def __init__(self, run: RunDir, manifest: dict[str, Any]) -> None:
        self.run = run
        self.manifest = manifest
        self.manifest.setdefault("stages", {})

    def is_cached(self, name: str, key: str) -> bool:
        stage = self.manifest["stages"].get(name)
        if not stage or stage.get("key") != key:
            return False
        return all((self.run.root / rel).exists() for rel in stage.get("outputs", []))

    @contextmanager
    def stage(self, name: str, key: str) -> Iterator[dict[str, Any]]:
        record: dict[str, Any] = {"key": key, "outputs": []}
        start = time.perf_counter()
        yield record
        record["seconds"] = round(time.perf_counter() - start, 4)
        record["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
        record["outputs"] = [str(Path(p).relative_to(self.run.root)) for p in record["outputs"]]
        self.manifest["stages"][name] = record
        self.run.write_manifest(self.manifest)
