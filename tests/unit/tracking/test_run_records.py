"""Run records from result files: params, tags, metrics and artifacts, without an MLflow store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlfactory.errors import ArtifactError
from mlfactory.tracking.run_records import RunContext, backtest_record, model_record


def _run(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    manifest = {
        "symbol": "MES",
        "input": {"path": "bars.parquet", "sha256": "abc", "bytes": 1},
        "config": {"ladder": {"base_timeframe": "5m"}},
    }
    (run / "manifest.json").write_text(json.dumps(manifest))
    return run


def _dump(path: Path, obj: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))
    return path


def test_model_record_holds_config_routing_and_flat_metrics(tmp_path: Path) -> None:
    run = _run(tmp_path)
    d = run / "models" / "lightgbm_h10"
    _dump(d / "metrics.json", {
        "model": "lightgbm", "horizon": 10, "seed": 7, "family": "boosting", "timeframe": "15m",
        "classification": {"test": {"model": {"log_loss": 1.0}, "prior": {"log_loss": 1.1}}},
        "trading": {"test": {"strategy": {"sharpe": 2.0, "profit_factor": float("inf")}}},
        "a_new_section": {"x": 3},
    })  # fmt: skip
    _dump(d / "routing.json", {
        "model": "lightgbm", "timeframe": "15m", "mtf_timeframes": ["1h", "4h"], "n_features": 12,
        "coverage": {"fraction": 0.8}, "config_source": "/somewhere/configs/models/lightgbm.yaml",
        "params": {"n_estimators": 15, "learning_rate": 0.05}, "features": ["a", "b"],
    })  # fmt: skip
    (d / "predictions_test.parquet").write_bytes(b"not read")
    rec = model_record(RunContext.of(run), d)
    assert rec.tags | {"run_dir": ""} == {
        "symbol": "MES", "run_dir": "", "kind": "model", "name": "lightgbm_h10", "model": "lightgbm",
        "horizon": "10", "family": "boosting", "timeframe": "15m",
        "non_finite_metrics": rec.tags["non_finite_metrics"],
    }  # fmt: skip
    assert "trading.test.strategy.profit_factor=inf" in rec.tags["non_finite_metrics"]
    assert rec.params["param.n_estimators"] == "15" and rec.params["mtf_timeframes"] == "1h,4h"
    assert rec.params["config_source"] == "lightgbm.yaml" and rec.params["data_sha256"] == "abc"
    assert rec.params["seed"] == "7" and "features" not in rec.params
    assert rec.metrics["a_new_section.x"] == 3.0 and rec.metrics["coverage"] == 0.8
    assert rec.metrics["test_log_loss_vs_prior"] == pytest.approx(-0.1)
    assert [a.name for a in rec.artifacts] == ["metrics.json", "routing.json"]


def test_backtest_steps_become_children(tmp_path: Path) -> None:
    run = _run(tmp_path)
    d = run / "backtests" / "wf_lightgbm_h10"
    steps = [{"train_start": "2024-01-02", "sharpe": 1.0}, {"train_start": "2024-01-09", "sharpe": -0.5}]
    _dump(
        d / "metrics.json",
        {
            "model": "lightgbm",
            "horizon": 10,
            "train_days": 5,
            "sharpe": 0.4,
            "coverage": 0.75,
            "steps": steps,
        },
    )
    rec = backtest_record(RunContext.of(run), d)
    assert rec.tags["kind"] == "backtest" and rec.tags["timeframe"] == "5m"
    assert rec.metrics["sharpe"] == 0.4 and rec.metrics["coverage"] == 0.75
    assert rec.params == {
        "model": "lightgbm",
        "horizon": "10",
        "train_days": "5",
        "decision_timeframe": "5m",
    } | {k: rec.params[k] for k in ("data_sha256", "pipeline_config_hash")}
    assert not any(k.startswith("steps") for k in rec.metrics)
    assert [c.metrics["sharpe"] for c in rec.children] == [1.0, -0.5]
    assert rec.children[1].params["train_start"] == "2024-01-09"


def test_a_broken_metrics_file_names_itself(tmp_path: Path) -> None:
    run = _run(tmp_path)
    bad = run / "models" / "x_h10" / "metrics.json"
    bad.parent.mkdir(parents=True)
    bad.write_text("{not json")
    with pytest.raises(ArtifactError, match=r"x_h10/metrics\.json"):
        model_record(RunContext.of(run), bad.parent)
