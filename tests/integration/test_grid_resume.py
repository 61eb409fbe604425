"""Kill a real `mlfactory grid` with SIGKILL mid-run; the re-run finishes only the unfinished jobs.

Finished job files stay untouched (same bytes, same mtimes), the killed job's partial write is
never accepted, and the final OOF artifacts equal those of an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from mlfactory.runtime.jobs import COMPLETE, JobStore
from mlfactory.training.grid import run_grid

MODELS = "random_forest,nbeats"
PARAMS = ["random_forest.n_estimators=10", "nbeats.epochs=1", "nbeats.seq_len=8", "nbeats.progress=false"]
N_JOBS = 6  # 2 models x 3 folds
GRID = "from mlfactory.cli import app; app()"


def grid_command(run: Path) -> list[str]:
    cmd = [sys.executable, "-c", GRID, "grid", "--run", str(run), "--models", MODELS, "--horizons", "10"]
    return [*cmd, "-k", "3", *[a for p in PARAMS for a in ("-p", p)], "--json"]


def complete_jobs(run: Path) -> list[Path]:
    return sorted(p.parent for p in (run / "jobs").glob(f"*/{COMPLETE}"))


def snapshot(dirs: list[Path]) -> dict[str, tuple[int, bytes]]:
    return {str(f): (f.stat().st_mtime_ns, f.read_bytes()) for d in dirs for f in sorted(d.iterdir())}


@pytest.mark.slow
def test_sigkill_mid_grid_then_rerun_recomputes_only_unfinished_jobs(small_run: Path, tmp_path: Path):
    run = shutil.copytree(small_run, tmp_path / "killed")
    proc = subprocess.Popen(grid_command(run), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    try:
        while len(complete_jobs(run)) < 2:
            assert proc.poll() is None, "grid ended before it could be killed"
            assert time.monotonic() < deadline, "no job finished within 300 s"
            time.sleep(0.02)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finished = complete_jobs(run)
    assert 2 <= len(finished) < N_JOBS, f"{len(finished)} jobs finished before the kill"
    assert not (run / "models" / "nbeats_h10" / "oof.parquet").exists()  # the grid never got to assembling
    kept = snapshot(finished)

    rerun = subprocess.run(grid_command(run), capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    jobs = json.loads(rerun.stdout)["jobs"]
    assert jobs["total"] == N_JOBS
    assert jobs["cached"] == len(finished) and jobs["computed"] == N_JOBS - len(finished)
    assert snapshot(finished) == kept  # finished job files untouched
    assert len(complete_jobs(run)) == N_JOBS and not list((run / "jobs").glob(".tmp-*"))

    whole = shutil.copytree(small_run, tmp_path / "whole")
    run_grid(whole, MODELS.split(","), [10], n_splits=3, params=PARAMS)
    for model in MODELS.split(","):
        rel = Path("models") / f"{model}_h10"
        assert_frame_equal(
            pl.read_parquet(run / rel / "oof.parquet"),
            pl.read_parquet(whole / rel / "oof.parquet"),
            check_exact=True,
        )
        assert (run / rel / "oof_coverage.json").read_text() == (
            whole / rel / "oof_coverage.json"
        ).read_text()
    assert {p.name for p in complete_jobs(run)} == {p.name for p in complete_jobs(whole)}
    assert all(JobStore(run).is_complete(p.name) for p in complete_jobs(whole))
