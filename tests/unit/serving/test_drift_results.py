"""Drift results as artifacts: written atomically under the window end's name, read back, refused when corrupt."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlfactory.errors import ArtifactError
from mlfactory.serving.drift import CLASS_NAMES, DriftConfig, ks, psi
from mlfactory.serving.drift_results import (
    MONITORING_DIR,
    default_results_dir,
    read_drift_result,
    read_run_drift_results,
    write_drift_result,
)


def result(end: str, shift: float, seed: int = 0) -> dict[str, Any]:
    """A monitor result whose scores are computed by the real PSI/KS on a normal and a shifted sample."""
    rng = np.random.default_rng(seed)
    cfg = DriftConfig(window=200)
    scores = []
    for i, name in enumerate(("rsi_14", "natr_14", "ret_1")):
        ref, cur = rng.normal(size=1_000), rng.normal(shift * i, 1.0, size=cfg.window)
        p, k = psi(ref, cur, cfg.bins), ks(ref, cur)
        scores.append({"target": name, "kind": "feature", "timeframe": "5m", "psi": p, "ks": k,
                       "n_reference": 1_000, "n_recent": cfg.window, "status": cfg.status(p, k)})  # fmt: skip
    scores.append({"target": "empty", "kind": "feature", "timeframe": "15m", "psi": psi(np.array([np.nan]), cur, 10),
                   "ks": float("nan"), "n_reference": 0, "n_recent": cfg.window, "status": "ok"})  # fmt: skip
    span = {"rows": cfg.window, "start": "2024-04-01T00:00:00Z", "end": end}
    return {
        "bundle": "/runs/r/ensembles/b", "bundle_id": "b", "bundle_sha256": "ab" * 32, "generation": "g1",
        "data": "/data/recent.parquet", "data_sha256": "cd" * 32, "config": cfg.model_dump(),
        "conventions": {"symbol": "MES", "format": "generic", "stamp": "close", "timezone": "America/Chicago"},
        "windows": {"5m": span, "predictions": span}, "summary": {"ok": 2, "warn": 1, "alert": 1},
        "class_shares": {"classes": list(CLASS_NAMES), "reference": [0.3, 0.4, 0.3], "recent": [0.5, 0.2, 0.3]},
        "scores": scores,
    }  # fmt: skip


def test_result_is_written_under_its_window_end_and_read_back(tmp_path: Path) -> None:
    original = result("2024-04-02T21:00:00Z", 1.0)
    path = write_drift_result(original, tmp_path / "monitoring" / "b")
    assert path == tmp_path / "monitoring" / "b" / "20240402T210000Z.json"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind
    raw = json.loads(path.read_text())  # strict JSON: the NaN scores are null with a reason
    empty = next(s for s in raw["scores"] if s["target"] == "empty")
    assert empty["psi"] is None and empty["psi_reason"] and empty["ks"] is None
    back = read_drift_result(path)
    assert back.config == DriftConfig(window=200) and back.windows["5m"].rows == 200
    for got, want in zip(back.scores, original["scores"], strict=True):
        assert got.target == want["target"] and got.status == want["status"]
        assert got.psi == (pytest.approx(want["psi"]) if np.isfinite(want["psi"]) else None)
    assert list(back.class_shares.recent) == [0.5, 0.2, 0.3]


def test_the_same_window_rewrites_one_file_and_results_come_back_in_window_order(tmp_path: Path) -> None:
    run = tmp_path / "run"
    directory = default_results_dir(run / "ensembles" / "b")
    assert directory == run / MONITORING_DIR / "b"
    for end, shift in (
        ("2024-04-09T21:00:00Z", 2.0),
        ("2024-04-02T21:00:00Z", 0.0),
        ("2024-04-09T21:00:00Z", 1.0),
    ):
        write_drift_result(result(end, shift), directory)
    results = read_run_drift_results(run)["b"]
    assert [r.window_end.day for r in results] == [2, 9]
    assert results[1].scores[2].psi == pytest.approx(
        result("", 1.0)["scores"][2]["psi"]
    )  # the later write won
    assert read_run_drift_results(tmp_path / "no_run") == {}


def test_corrupt_or_foreign_results_are_refused_with_the_file(tmp_path: Path) -> None:
    path = write_drift_result(result("2024-04-02T21:00:00Z", 0.0), tmp_path)
    record = json.loads(path.read_text())
    record["scores"][0]["status"] = "fine"
    path.write_text(json.dumps(record))
    with pytest.raises(ArtifactError, match=f"{path}.*status"):
        read_drift_result(path)
    path.write_text('{"scores": [')
    with pytest.raises(ArtifactError, match=str(path)):
        read_drift_result(path)


def test_an_empty_window_is_not_recorded(tmp_path: Path) -> None:
    empty = result("2024-04-02T21:00:00Z", 0.0)
    empty["windows"] = {"predictions": {"rows": 0, "start": None, "end": None}}
    with pytest.raises(ArtifactError, match="empty"):
        write_drift_result(empty, tmp_path)
    assert not list(tmp_path.iterdir())
