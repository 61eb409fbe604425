"""Run directory: paths of the contract, manifest round trip, stage caching."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlfactory.errors import ArtifactError
from mlfactory.run_dir import (
    BUILDING,
    COMPLETE,
    RunDir,
    StageRecorder,
    current_generation,
    current_only,
    generation_id,
    move_derived_aside,
    package_versions,
    require_current,
    stable_hash,
    stamp_generation,
    verify_run_file,
)


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
    out.write_bytes(b"y")  # same size, other content: no longer trusted
    assert not rec.is_cached("data", "k1")
    out.write_bytes(b"x")
    assert rec.is_cached("data", "k1")
    out.unlink()
    assert not rec.is_cached("data", "k1")


def test_unfinished_run_is_refused_by_readers(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    run.write_manifest({"status": BUILDING, "generation": "g"})
    with pytest.raises(ArtifactError, match="did not finish"):
        run.require()
    with pytest.raises(ArtifactError, match="did not finish"):
        current_generation(run)
    assert current_only(run, [tmp_path / "models" / "a"]) == ([], [tmp_path / "models" / "a"])


def test_verify_run_file_names_the_file_and_the_rebuild_command(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    rec = StageRecorder(run, {"input": {"path": "/d/bars.csv"}, "symbol": "MES"})
    out = tmp_path / "labels" / "h5.parquet"
    with rec.stage("labels", "k") as st:
        out.parent.mkdir(parents=True)
        out.write_bytes(b"abc")
        st["outputs"].append(out)
    assert verify_run_file(run, rec.manifest, out) == out
    out.write_bytes(b"ab")
    with pytest.raises(
        ArtifactError, match=r"h5\.parquet.*mlfactory pipeline run --data /d/bars\.csv --symbol MES"
    ):
        verify_run_file(run, rec.manifest, out)
    with pytest.raises(ArtifactError, match="no content hash recorded"):
        verify_run_file(run, rec.manifest, tmp_path / "labels" / "h9.parquet")


def test_generations(tmp_path: Path) -> None:
    g1, g2 = generation_id("sha-a", {"seed": 1}), generation_id("sha-a", {"seed": 2})
    assert g1 != g2 != generation_id("sha-b", {"seed": 1}) and g1 == generation_id("sha-a", {"seed": 1})
    run = RunDir(tmp_path)
    run.write_manifest(
        {"status": COMPLETE, "generation": g1, "symbol": "MES", "instrument": {}, "config": {}, "seed": 0,
         "input": {"path": "bars.parquet", "sha256": "sha-a", "bytes": 1}}
    )  # fmt: skip
    a, b, c = (tmp_path / "models" / n for n in ("a", "b", "c"))
    for d in (a, b, c):
        d.mkdir(parents=True)
    stamp_generation(a, g1)
    stamp_generation(b, g2)  # c records none
    assert current_generation(run) == g1
    assert current_only(run, [a, b, c]) == ([a], [b, c])
    assert require_current(run, a) == g1
    with pytest.raises(ArtifactError, match=f"generation {g2}, but the run is now generation {g1}"):
        require_current(run, b)
    moved = move_derived_aside(run, g1)
    assert moved is not None and (moved / "models" / "a" / "generation.json").is_file()
    assert not (tmp_path / "models").exists()
    assert move_derived_aside(run, g1) is None


def test_stable_hash_and_versions() -> None:
    assert stable_hash({"a": 1, "b": [1, 2]}) == stable_hash({"b": [1, 2], "a": 1})
    assert stable_hash({"a": 1}) != stable_hash({"a": 2})
    versions = package_versions()
    for name in ("python", "mlfactory", "polars", "numpy", "pandas-market-calendars"):
        assert versions[name]
