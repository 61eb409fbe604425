"""The run directory contract (see DESIGN.md) and its manifest.

``RUN/manifest.json`` records the config, the input file's sha256, package versions, the seed
and, per stage, a cache key, the outputs with their sha256 and the wall time. A stage whose key is
unchanged and whose outputs still hash to the recorded values is skipped on the next
``pipeline run``; a truncated or edited output is recomputed there and refused by readers
(``verify_run_file``).

Generations: a finished ``pipeline run`` stamps the manifest with ``generation``, a hash of the
input data and the config. Models, ensembles and backtests record the generation they were built
from (``stamp_generation``); ``current_only`` keeps a leaderboard or report to the current one.
While ``pipeline run`` works the manifest says ``status: building``, and readers refuse the run
until it has finished, so a killed re-run never pairs a new config with old outputs.
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
from mlfactory.artifacts import atomic_write_json, sha256_file
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


BUILDING = "building"
COMPLETE = "complete"
GENERATION_FILE = "generation.json"
REBUILD = "mlfactory pipeline run"
# Everything built on top of the dataset: moved aside when a run changes generation.
DERIVED = ("models", "ensembles", "backtests", "cv", "selection", "tuning", "monitoring", "report.html")


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
        atomic_write_json(self.manifest_path, manifest, sort_keys=True, default=str)

    def require(self) -> dict[str, Any]:
        """The manifest of a finished run, or a clear error."""
        if not self.manifest_path.is_file():
            raise ArtifactError(
                f"{self.root}: not a run directory (no manifest.json); create one with "
                "`mlfactory pipeline run --data FILE --symbol S --out RUN`"
            )
        from mlfactory.manifest import check_manifest

        manifest = self.read_manifest()
        if manifest.get("status") == BUILDING:
            raise ArtifactError(
                f"{self.manifest_path}: the last `mlfactory pipeline run` into {self.root} did not finish "
                "(status: building), so its outputs may mix two configs; run `mlfactory pipeline run` "
                "again to complete it"
            )
        return check_manifest(manifest, self.manifest_path, complete=True)


class StageRecorder:
    """Records stage keys, outputs and timings into the manifest; tells whether a stage is cached."""

    def __init__(self, run: RunDir, manifest: dict[str, Any]) -> None:
        self.run = run
        self.manifest = manifest
        self.manifest.setdefault("stages", {})

    def is_cached(self, name: str, key: str) -> bool:
        """Same key, and every output still hashes to what was recorded when it was written."""
        stage = self.manifest["stages"].get(name)
        if not stage or stage.get("key") != key:
            return False
        hashes = stage.get("sha256", {})
        for rel in stage.get("outputs", []):
            path = self.run.root / rel
            if rel not in hashes or not path.is_file() or sha256_file(path) != hashes[rel]:
                return False
        return True

    @contextmanager
    def stage(self, name: str, key: str) -> Iterator[dict[str, Any]]:
        record: dict[str, Any] = {"key": key, "outputs": []}
        start = time.perf_counter()
        yield record
        record["seconds"] = round(time.perf_counter() - start, 4)
        record["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
        record["outputs"] = [Path(p).relative_to(self.run.root).as_posix() for p in record["outputs"]]
        record["sha256"] = {rel: sha256_file(self.run.root / rel) for rel in record["outputs"]}
        self.manifest["stages"][name] = record
        self.manifest["status"] = BUILDING
        self.run.write_manifest(self.manifest)


# ----------------------------------------------------------------------------------- verification


def rebuild_hint(manifest: dict[str, Any], run: RunDir) -> str:
    """The command that rebuilds ``run``'s dataset, with the run's own input and symbol when known."""
    data = manifest.get("input", {}).get("path", "FILE")
    symbol = manifest.get("symbol", "S")
    return f"`{REBUILD} --data {data} --symbol {symbol} --out {run.root}`"


def verify_run_file(run: RunDir, manifest: dict[str, Any], path: Path) -> Path:
    """Refuse a dataset file that differs from the sha256 its stage recorded when it was written.

    Returns ``path``. Raises ``ArtifactError`` naming the file and the command that rebuilds it when
    the file is missing, no stage recorded it, or its content changed (truncated, edited, replaced).
    """
    path = Path(path)
    rel = path.relative_to(run.root).as_posix()
    recorded = next(
        (s["sha256"][rel] for s in manifest.get("stages", {}).values() if rel in s.get("sha256", {})),
        None,
    )
    if recorded is None:
        raise ArtifactError(
            f"{path}: no content hash recorded for it in {run.manifest_path} (written by an older mlfactory "
            f"or not by `pipeline run`); rebuild the run with {rebuild_hint(manifest, run)}"
        )
    if not path.is_file():
        raise ArtifactError(f"{path}: missing; rebuild it with {rebuild_hint(manifest, run)}")
    if sha256_file(path) != recorded:
        raise ArtifactError(
            f"{path}: its content differs from the sha256 recorded when `pipeline run` wrote it (truncated or "
            f"modified since); rebuild it with {rebuild_hint(manifest, run)}"
        )
    return path


# ----------------------------------------------------------------------------------- generations


def generation_id(input_sha256: str, config: dict[str, Any]) -> str:
    """The identity of a run's dataset: a hash of its input data and its resolved config."""
    return stable_hash({"input_sha256": input_sha256, "config": config})[:16]


def current_generation(run: RunDir | Path) -> str:
    """The generation of a finished run; ``ArtifactError`` if the run is unfinished or has none."""
    run = run if isinstance(run, RunDir) else RunDir(Path(run))
    manifest = run.require()
    generation = manifest.get("generation")
    if not generation:
        raise ArtifactError(
            f"{run.manifest_path}: no generation (written by an older mlfactory); rerun {rebuild_hint(manifest, run)}"
        )
    return str(generation)


def stamp_generation(directory: Path, generation: str) -> Path:
    """Record in ``directory/generation.json`` the generation an artifact was built from."""
    return atomic_write_json(
        Path(directory) / GENERATION_FILE,
        {"generation": generation, "written": datetime.now(UTC).isoformat(timespec="seconds")},
    )


def artifact_generation(directory: Path) -> str | None:
    """The generation an artifact directory records, or None if it records none (stale by definition)."""
    path = Path(directory) / GENERATION_FILE
    try:
        return str(json.loads(path.read_text())["generation"])
    except (OSError, json.JSONDecodeError, KeyError, TypeError):
        return None


def is_current(run: RunDir | Path, directory: Path) -> bool:
    return artifact_generation(directory) == current_generation(run)


def current_only(run: RunDir | Path, directories: list[Path]) -> tuple[list[Path], list[Path]]:
    """Split artifact directories into (current, stale) for ``run``: reports and leaderboards show only
    the current ones and may list the stale ones as such, never mix them. An artifact without a
    generation stamp (an older mlfactory, or a write killed before its end) is stale."""
    run = run if isinstance(run, RunDir) else RunDir(Path(run))
    manifest = run.read_manifest()
    finished = manifest.get("status") == COMPLETE and manifest.get("generation")
    generation = manifest["generation"] if finished else None  # an unfinished run has nothing current
    current = [d for d in directories if generation is not None and artifact_generation(d) == generation]
    return current, [d for d in directories if d not in current]


def require_current(run: RunDir | Path, directory: Path) -> str:
    """Refuse an artifact built from another generation of ``run``; return the generation."""
    generation = current_generation(run)
    found = artifact_generation(directory)
    if found != generation:
        raise ArtifactError(
            f"{directory}: built from generation {found or 'unknown'}, but the run is now generation {generation} "
            "(its data or config changed since); retrain it on the current run"
        )
    return generation


def move_derived_aside(run: RunDir, old_generation: str | None) -> Path | None:
    """Move models, ensembles, backtests, CV results and the report of an older generation to
    ``RUN/stale/<generation>-<time>/`` so they can never pass for results of the new one."""
    present = [name for name in DERIVED if (run.root / name).exists()]
    if not present:
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    dest = run.root / "stale" / f"{old_generation or 'unknown'}-{stamp}"
    dest.mkdir(parents=True, exist_ok=True)
    for name in present:
        (run.root / name).rename(dest / name)
    return dest
