"""Atomic writes, whole-directory manifests and paths that must stay inside their artifact."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from mlfactory.artifacts import (
    MANIFEST,
    atomic_directory,
    atomic_write_json,
    atomic_write_parquet,
    atomic_write_text,
    read_file_manifest,
    resolve_inside,
    verify_file_manifest,
    write_file_manifest,
)
from mlfactory.errors import ArtifactError


def test_atomic_write_replaces_whole_and_a_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "a" / "x.json"
    atomic_write_json(path, {"v": 1})
    atomic_write_json(path, {"v": 2})
    assert json.loads(path.read_text()) == {"v": 2}

    class Boom(Exception):
        pass

    frame = pl.DataFrame({"a": [1, 2]})
    target = tmp_path / "f.parquet"
    atomic_write_parquet(frame, target)
    with pytest.raises(Boom):
        from mlfactory.artifacts import atomic_path

        with atomic_path(target) as tmp:
            tmp.write_bytes(b"PAR1 half")
            raise Boom
    assert pl.read_parquet(target).equals(frame)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "f.parquet"]  # no temporary left


def test_atomic_directory_swaps_whole_and_keeps_the_old_one_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "model"
    with atomic_directory(target) as d:
        atomic_write_text(d / "a.txt", "old")
    with pytest.raises(RuntimeError), atomic_directory(target) as d:
        atomic_write_text(d / "a.txt", "new")
        raise RuntimeError("killed half-way")
    assert (target / "a.txt").read_text() == "old"
    with atomic_directory(target) as d:
        atomic_write_text(d / "b.txt", "new")
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]  # replaced whole, nothing mixed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


@pytest.mark.parametrize("bad", ["../x", "a/../../x", "/etc/passwd", "", "..", "bases/../../../outside"])
def test_resolve_inside_refuses_paths_that_leave_the_root(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ArtifactError, match="relative and stay inside"):
        resolve_inside(tmp_path, bad)


def test_resolve_inside_refuses_a_symlink_out_and_accepts_a_nested_path(tmp_path: Path) -> None:
    root = tmp_path / "bundle"
    (root / "bases" / "m").mkdir(parents=True)
    (root / "link").symlink_to(tmp_path)
    with pytest.raises(ArtifactError, match="outside the directory"):
        resolve_inside(root, "link/x")
    assert resolve_inside(root, "bases/m") == root / "bases" / "m"


def _artifact(tmp_path: Path) -> Path:
    d = tmp_path / "art"
    (d / "inner").mkdir(parents=True)
    (d / "params.json").write_text('{"a": 1}')
    (d / "inner" / "model.txt").write_text("tree")
    write_file_manifest(d, ["params.json"], generation="g1")
    return d


def test_manifest_lists_every_file_json_and_nested_included(tmp_path: Path) -> None:
    d = _artifact(tmp_path)
    record = verify_file_manifest(d)
    assert set(record["files"]) == {"params.json", "inner/model.txt"}
    assert record["generation"] == "g1"


@pytest.mark.parametrize(
    "edit",
    ["edit_json", "edit_nested", "add_file", "delete_file", "escape_name", "old_format", "broken_manifest"],
)
def test_every_kind_of_edit_is_refused(tmp_path: Path, edit: str) -> None:
    d = _artifact(tmp_path)
    manifest = json.loads((d / MANIFEST).read_text())
    if edit == "edit_json":
        (d / "params.json").write_text('{"a": 2}')
    elif edit == "edit_nested":
        (d / "inner" / "model.txt").write_text("tre")
    elif edit == "add_file":
        (d / "routing.json").write_text("{}")
    elif edit == "delete_file":
        (d / "params.json").unlink()
    elif edit == "escape_name":
        (tmp_path / "outside.txt").write_text("x")
        manifest["files"]["../outside.txt"] = manifest["files"].pop("params.json")
        (d / MANIFEST).write_text(json.dumps(manifest))
    elif edit == "old_format":
        (d / MANIFEST).write_text(json.dumps(manifest["files"]))
    elif edit == "broken_manifest":
        (d / MANIFEST).write_text("{")
    with pytest.raises(ArtifactError):
        verify_file_manifest(d)


def test_missing_manifest_and_expected_file_not_written(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match=r"no files\.sha256\.json"):
        read_file_manifest(tmp_path)
    with pytest.raises(ArtifactError, match="were not written"):
        write_file_manifest(tmp_path, ["meta.json"])
