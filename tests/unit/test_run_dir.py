"""Run directory: paths of the contract, manifest round trip, stage caching."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlfactory.errors import ArtifactError
from mlfactory.run_dir import RunDir, StageRecorder, package_versions, stable_hash


def test_paths_follow_the_contract(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    assert run.manifest_path == tmp_path / "manifest.json"
    assert run.bars_path("5m") == tmp_path / "data" / "bars_5m.parquet"
    assert run.features_path("1h") == tmp_path / "features" / "1h.parquet"
    assert run.labels_path(12) == tmp_path / "labels" / "h12.parquet"
    assert run.splits_path == tmp_path / "splits.json"
    assert run.model_dir("catboost", 6) == tmp_path / "models" / "catboost_h6"
    assert run.ensemble_dir("e1") == tmp_path / "ensembles" / "e1"
    assert run.report_path == tmp_path / "report.html"


def test_manifest_round_trip_and_errors(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    assert run.read_manifest() == {}
    with pytest.raises(ArtifactError, match="not a run directory"):
        run.require()
    run.write_manifest({"b": 1, "a": [1, 2]})
    assert run.read_manifest() == {"a": [1, 2], "b": 1}
    with pytest.raises(ArtifactError, match="symbol: missing"):
        run.require()  # a finished run's manifest has symbol, instrument, input, config, seed
    run.manifest_path.write_text("{broken")
    with pytest.raises(ArtifactError, match="unreadable or corrupt"):
        run.read_manifest()


def test_stage_cache_needs_same_key_and_existing_outputs(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    rec = StageRecorder(run, {})
    out = tmp_path / "data" / "x.parquet"
    assert not rec.is_cached("data", "k1")
    with rec.stage("data", "k1") as st:
        out.parent.mkdir(parents=True)
        out.write_bytes(b"x")
        st["outputs"].append(out)
    stage = run.read_manifest()["stages"]["data"]
    assert stage["outputs"] == ["data/x.parquet"]
    assert stage["key"] == "k1"
    assert stage["seconds"] >= 0
    assert rec.is_cached("data", "k1")
    assert not rec.is_cached("data", "k2")
    out.unlink()
    assert not rec.is_cached("data", "k1")


def test_stable_hash_and_versions() -> None:
    assert stable_hash({"a": 1, "b": [1, 2]}) == stable_hash({"b": [1, 2], "a": 1})
    assert stable_hash({"a": 1}) != stable_hash({"a": 2})
    versions = package_versions()
    for name in ("python", "mlfactory", "polars", "numpy", "pandas-market-calendars"):
        assert versions[name]
