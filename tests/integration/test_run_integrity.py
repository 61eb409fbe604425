"""A run directory through the real pipeline: truncated files, generations, a killed re-run, one writer.

* Every dataset file the stage cache trusts is checked against the sha256 recorded when it was
  written: a truncated file is recomputed by the next ``pipeline run`` and refused by readers with a
  message naming the file and ``mlfactory pipeline run``.
* Other data or config make a new generation: models built on the old one are moved aside and never
  reach the leaderboard or the report.
* A re-run killed with SIGKILL leaves a run that readers refuse until ``pipeline run`` completes it.
* A second ``pipeline run`` into a run being written fails naming the holder (two real processes).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
import yaml
from run_copies import copy_dataset

from mlfactory.config import PipelineConfig
from mlfactory.data.instruments import get_instrument
from mlfactory.errors import ArtifactError
from mlfactory.evaluation.report.artifacts import load_run
from mlfactory.evaluation.report.leaderboard import build_leaderboard
from mlfactory.pipeline import run_pipeline
from mlfactory.run_data import RunData
from mlfactory.run_dir import RunDir, current_generation, current_only, require_current
from mlfactory.training.train import train_model


@pytest.fixture
def run_copy(small_run: Path, tmp_path: Path) -> Path:
    """A private copy of the shared small run, free to damage."""
    return copy_dataset(small_run, tmp_path / "runs" / "run")


def _rerun(run: Path, **overrides: object) -> dict:
    manifest = RunDir(run).read_manifest()
    cfg = PipelineConfig.model_validate(_merge(manifest["config"], overrides))
    result = run_pipeline(Path(manifest["input"]["path"]), get_instrument("MES"), cfg, run)
    return result.summary()


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(base[k], v) if isinstance(v, dict) else v
    return out


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


READERS = {
    "features/5m.parquet": ("features", lambda d: d.features("5m")),
    "labels/h10.parquet": ("labels", lambda d: d.labels(10)),
    "splits.json": ("labels", lambda d: d.splits),
    "data/bars_1m.parquet": ("data", lambda d: d.bars("1m")),
}


@pytest.mark.parametrize("rel", list(READERS))
def test_truncated_file_is_refused_by_readers_and_recomputed_by_pipeline_run(
    run_copy: Path, rel: str
) -> None:
    stage, read = READERS[rel]
    path = run_copy / rel
    before = path.read_bytes()
    _truncate(path)
    with pytest.raises(ArtifactError) as err:
        read(RunData(run_copy))
    msg = str(err.value)
    assert str(path) in msg and "mlfactory pipeline run" in msg and "truncated or modified" in msg
    summary = _rerun(run_copy)
    assert stage not in summary["cached_stages"]  # the damaged stage was recomputed, not "cached"
    assert path.read_bytes() == before  # deterministic: the same file again
    read(RunData(run_copy))  # and readers accept it


def test_new_generation_moves_old_models_aside_and_they_never_reach_a_leaderboard(run_copy: Path) -> None:
    old = current_generation(run_copy)
    model_dir = train_model(run_copy, "logistic", 10, params=["max_iter=50"]).directory
    assert json.loads((model_dir / "generation.json").read_text())["generation"] == old
    assert json.loads((model_dir / "model" / "files.sha256.json").read_text())["generation"] == old
    assert [r["name"] for r in build_leaderboard(run_copy.parent).rows] == ["logistic_h10"]

    _rerun(run_copy, seed=run_copy_seed(run_copy) + 1)  # another config: a new generation
    new = current_generation(run_copy)
    assert new != old
    assert not (run_copy / "models").exists()
    stale = list((run_copy / "stale").glob(f"{old}-*/models/logistic_h10"))
    assert len(stale) == 1
    # Even copied back by hand, the old model is stale: refused, and never mixed into a table.
    shutil.copytree(stale[0], run_copy / "models" / "logistic_h10")
    mixed = build_leaderboard(run_copy.parent).rows
    assert mixed == []
    assert load_run(run_copy).models == []
    assert current_only(run_copy, [run_copy / "models" / "logistic_h10"]) == (
        [],
        [run_copy / "models" / "logistic_h10"],
    )
    with pytest.raises(ArtifactError, match=f"generation {old}.*now generation {new}"):
        require_current(run_copy, run_copy / "models" / "logistic_h10")


def test_other_data_is_another_generation(run_copy: Path, tmp_path: Path) -> None:
    manifest = RunDir(run_copy).read_manifest()
    other = tmp_path / "other.parquet"
    frame = pl.read_parquet(manifest["input"]["path"])
    frame.head(frame.height - 500).write_parquet(other)
    cfg = PipelineConfig.model_validate(manifest["config"])
    (run_copy / "models" / "x_h10").mkdir(parents=True)
    run_pipeline(other, get_instrument("MES"), cfg, run_copy)
    assert current_generation(run_copy) != manifest["generation"]
    assert not (run_copy / "models").exists()


def run_copy_seed(run: Path) -> int:
    return int(RunDir(run).read_manifest()["config"]["seed"])


def test_killed_config_change_rerun_is_refused_until_completed(run_copy: Path, tmp_path: Path) -> None:
    manifest = RunDir(run_copy).read_manifest()
    config = _merge(manifest["config"], {"seed": int(manifest["config"]["seed"]) + 7})
    cfg_path = tmp_path / "changed.yaml"
    cfg_path.write_text(yaml.safe_dump(config))
    cmd = [sys.executable, "-c", "from mlfactory.cli import app; app()", "pipeline", "run", "--data", manifest["input"]["path"],
           "--symbol", "MES", "--out", str(run_copy), "--config", str(cfg_path)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if RunDir(run_copy).read_manifest().get("status") == "building":
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.01)
        proc.wait(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == -signal.SIGKILL, "the re-run finished before it could be killed"
    on_disk = RunDir(run_copy).read_manifest()
    assert on_disk["config"]["seed"] == config["seed"]  # the new config is on disk ...
    with pytest.raises(ArtifactError, match="did not finish"):
        RunData(run_copy)  # ... but no reader accepts it over the old labels
    with pytest.raises(ArtifactError, match="did not finish"):
        current_generation(run_copy)
    assert build_leaderboard(run_copy.parent).rows == []
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert RunData(run_copy).labels(10).height > 0


HOLDER = """
import sys, time
from pathlib import Path
from mlfactory.locks import writer_lock
with writer_lock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(60)
"""


def test_second_pipeline_run_fails_naming_the_writer(run_copy: Path) -> None:
    manifest = RunDir(run_copy).read_manifest()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(run_copy / "manifest.json")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        cfg = PipelineConfig.model_validate(manifest["config"])
        with pytest.raises(ArtifactError, match=f"pid {holder.pid} running .* since"):
            run_pipeline(
                Path(manifest["input"]["path"]), get_instrument("MES"), cfg, run_copy, lock_timeout=0.5
            )
    finally:
        holder.kill()
        holder.wait(timeout=10)


def test_second_train_of_the_same_model_fails_naming_the_writer(run_copy: Path, monkeypatch) -> None:
    target = RunDir(run_copy).model_dir("logistic", 10)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(target)], stdout=subprocess.PIPE, text=True)
    monkeypatch.setenv("MLFACTORY_LOCK_TIMEOUT", "0.5")
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(ArtifactError, match=f"model directory is being written by pid {holder.pid}"):
            train_model(run_copy, "logistic", 10, params=["max_iter=50"])
    finally:
        holder.kill()
        holder.wait(timeout=10)
    assert not (target / "generation.json").exists()  # nothing was written by the refused writer
