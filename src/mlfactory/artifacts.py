"""Hash manifests for saved artifacts: ``load`` refuses files that changed after ``save``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from mlfactory.errors import ArtifactError

MANIFEST = "files.sha256.json"


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def write_file_manifest(directory: Path, files: list[str]) -> None:
    """Record the sha256 of each file (names relative to ``directory``)."""
    directory = Path(directory)
    hashes = {name: sha256_file(directory / name) for name in sorted(files)}
    (directory / MANIFEST).write_text(json.dumps(hashes, indent=2))


def verify_file_manifest(directory: Path) -> dict[str, str]:
    """Check every file listed in the manifest; raise ``ArtifactError`` naming the first mismatch."""
    directory = Path(directory)
    path = directory / MANIFEST
    if not path.is_file():
        raise ArtifactError(
            f"{directory}: no {MANIFEST}; the model directory is incomplete — retrain and save it again"
        )
    hashes = json.loads(path.read_text())
    for name, expected in hashes.items():
        f = directory / name
        if not f.is_file():
            raise ArtifactError(f"{f}: listed in {MANIFEST} but missing; the artifact is incomplete")
        actual = sha256_file(f)
        if actual != expected:
            raise ArtifactError(
                f"{f}: sha256 {actual[:12]}… does not match the manifest ({expected[:12]}…); the file was modified "
                "after saving — do not load it, retrain or restore the original"
            )
    return hashes
