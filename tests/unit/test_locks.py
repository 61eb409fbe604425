"""One writer per artifact, tested with two real processes."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlfactory.errors import ArtifactError
from mlfactory.locks import lock_holder, writer_lock

HOLDER = """
import sys, time
from pathlib import Path
from mlfactory.locks import writer_lock
with writer_lock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _start_holder(target: Path, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(target), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_second_writer_fails_naming_the_holder(tmp_path: Path) -> None:
    target = tmp_path / "models" / "lightgbm_h10"
    proc = _start_holder(target, 30)
    try:
        assert lock_holder(target)["pid"] == proc.pid
        with pytest.raises(ArtifactError) as err, writer_lock(target, timeout=0.3, what="model directory"):
            pass
        msg = str(err.value)
        assert f"pid {proc.pid}" in msg and "-c" in msg and "since" in msg and "model directory" in msg
    finally:
        proc.kill()
        proc.wait(timeout=10)
    with writer_lock(target, timeout=5):  # a killed holder releases the lock by itself
        pass


def test_second_writer_waits_for_the_first(tmp_path: Path) -> None:
    target = tmp_path / "run" / "manifest.json"
    proc = _start_holder(target, 1.0)
    start = time.monotonic()
    try:
        with writer_lock(target, timeout=30):
            waited = time.monotonic() - start  # the lock came only once the first writer let go
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert 0.5 < waited < 30


def test_lock_timeout_from_the_environment(monkeypatch) -> None:
    from mlfactory.errors import ConfigError
    from mlfactory.locks import DEFAULT_TIMEOUT_S, default_timeout

    monkeypatch.delenv("MLFACTORY_LOCK_TIMEOUT", raising=False)
    assert default_timeout() == DEFAULT_TIMEOUT_S
    monkeypatch.setenv("MLFACTORY_LOCK_TIMEOUT", "2.5")
    assert default_timeout() == 2.5
    for bad in ("soon", "-1"):
        monkeypatch.setenv("MLFACTORY_LOCK_TIMEOUT", bad)
        with pytest.raises(ConfigError, match="MLFACTORY_LOCK_TIMEOUT"):
            default_timeout()
