"""Saved artifacts that cannot be torn, altered or escape their directory.

* Atomic writes: every file goes to a temporary name in its own directory and is renamed into
  place (``os.replace``), so a process killed mid-write leaves either the old file or the new one,
  never a truncated file under the real name. A whole directory (a model, a bundle) is written
  aside and renamed into place in one step (``atomic_directory``).
* Hash manifests: ``files.sha256.json`` lists the sha256 of EVERY file of a directory (JSON
  included, nested directories too) and the generation it was built from. ``verify_file_manifest``
  refuses a changed, missing or unlisted file before anything is read.
* ``resolve_inside``: a path named inside an artifact (``ensemble.json`` → ``bases/x/model``) is
  resolved under the artifact's root and refused when it is absolute or leaves the root.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlfactory.errors import ArtifactError

if TYPE_CHECKING:
    import polars as pl

MANIFEST = "files.sha256.json"
MANIFEST_FORMAT = 2


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


# ----------------------------------------------------------------------------------- atomic writes


def _temp_sibling(path: Path, tag: str) -> Path:
    return path.with_name(f".{path.name}.{tag}-{os.getpid()}-{uuid.uuid4().hex[:8]}")


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` to write; on success it is fsynced and renamed to ``path``.

    On an exception the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_sibling(path, "tmp")
    try:
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any, **dumps: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, **({"indent": 2} | dumps)))


def atomic_write_parquet(frame: pl.DataFrame, path: Path) -> Path:
    with atomic_path(path) as tmp:
        frame.write_parquet(tmp)
    return Path(path)


@contextmanager
def atomic_directory(target: Path) -> Iterator[Path]:
    """Yield an empty directory beside ``target``; on success it replaces ``target`` whole.

    The old directory (if any) is renamed away first and deleted after the new one is in place, so
    a reader sees the old directory, no directory, or the new one — never a mix of the two. On an
    exception the half-written directory is deleted and ``target`` is untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_sibling(target, "tmp")
    tmp.mkdir()
    try:
        yield tmp
        _fsync_tree(tmp)
        old = _temp_sibling(target, "old") if target.exists() else None
        if old is not None:
            os.replace(target, old)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _fsync_tree(root: Path) -> None:
    for p in root.rglob("*"):
        if p.is_file():
            with open(p, "rb") as f:
                os.fsync(f.fileno())


# ----------------------------------------------------------------------------------- paths


def resolve_inside(root: Path, relative: str | Path) -> Path:
    """``root / relative``, refused unless it is a relative path that stays inside ``root``.

    Absolute paths, ``..`` components and symlinks that lead outside ``root`` raise ``ArtifactError``.
    """
    root = Path(root)
    rel = Path(relative)
    if rel.is_absolute() or str(relative).startswith(("/", "\\")) or ".." in rel.parts or not str(relative):
        raise ArtifactError(
            f"{root}: the path {str(relative)!r} is absolute or leaves the directory; artifact paths must be "
            "relative and stay inside it — the artifact was edited by hand, rebuild it"
        )
    resolved = (root / rel).resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise ArtifactError(
            f"{root}: {str(relative)!r} resolves to {resolved}, outside the directory (a symlink?); "
            "rebuild the artifact"
        )
    return root / rel


# ----------------------------------------------------------------------------------- manifests


def _listed_files(directory: Path) -> list[str]:
    """Every regular file under ``directory`` (POSIX relative names), the manifest itself excluded."""
    out = []
    for p in sorted(directory.rglob("*")):
        if p.is_symlink():
            raise ArtifactError(f"{p}: symlinks are not allowed inside an artifact directory")
        if p.is_file() and p.relative_to(directory).as_posix() != MANIFEST:
            out.append(p.relative_to(directory).as_posix())
    return out


def write_file_manifest(
    directory: Path, files: list[str] | None = None, *, generation: str | None = None
) -> dict[str, Any]:
    """Record the sha256 of every file under ``directory`` and the generation it was built from.

    ``files`` (optional) names files that must be present; every file is listed either way.
    """
    directory = Path(directory)
    names = _listed_files(directory)
    missing = sorted(set(files or []) - set(names))
    if missing:
        raise ArtifactError(f"{directory}: expected files {missing} were not written")
    record = {
        "format": MANIFEST_FORMAT,
        "generation": generation,
        "files": {name: sha256_file(directory / name) for name in names},
    }
    atomic_write_json(directory / MANIFEST, record, sort_keys=True)
    return record


def read_file_manifest(directory: Path) -> dict[str, Any]:
    directory = Path(directory)
    path = directory / MANIFEST
    if not path.is_file():
        raise ArtifactError(
            f"{directory}: no {MANIFEST}; the directory is incomplete — retrain and save it again"
        )
    try:
        record = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{path}: not valid JSON ({exc}); retrain and save the model again") from exc
    if not isinstance(record, dict) or record.get("format") != MANIFEST_FORMAT:
        raise ArtifactError(
            f"{path}: not a format-{MANIFEST_FORMAT} manifest (written by an older mlfactory or edited); "
            "retrain and save the model again"
        )
    return record


def verify_file_manifest(directory: Path) -> dict[str, Any]:
    """Check every file of ``directory`` against its manifest before use; return the manifest.

    Refused (``ArtifactError`` naming the file): a listed file missing or changed, a file present
    but not listed, a listed name that leaves the directory.
    """
    directory = Path(directory)
    record = read_file_manifest(directory)
    hashes: dict[str, str] = record["files"]
    for name, expected in hashes.items():
        f = resolve_inside(directory, name)
        if not f.is_file():
            raise ArtifactError(f"{f}: listed in {MANIFEST} but missing; the artifact is incomplete")
        actual = sha256_file(f)
        if actual != expected:
            raise ArtifactError(
                f"{f}: sha256 {actual[:12]}… does not match the manifest ({expected[:12]}…); the file was "
                "modified after saving — do not load it, retrain or restore the original"
            )
    extra = sorted(set(_listed_files(directory)) - set(hashes))
    if extra:
        raise ArtifactError(
            f"{directory}: files {extra[:5]} are not in {MANIFEST}; they were added after saving — "
            "remove them or retrain"
        )
    return record
