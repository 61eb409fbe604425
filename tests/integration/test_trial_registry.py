"""Training records every model in the run's trial registry, in per-decision net-of-cost units."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from mlfactory.evaluation.trials import TRIALS_FILE, decision_net_returns, read_trials
from mlfactory.models.registry import all_models
from mlfactory.run_data import RunData
from mlfactory.training.train import train_model


@pytest.fixture
def fresh_run(small_run: Path, tmp_path: Path) -> Path:
    """A copy of the shared run without any trained model or trial."""
    run = tmp_path / "run"
    shutil.copytree(small_run, run, ignore=shutil.ignore_patterns("models", "ensembles", TRIALS_FILE + "*"))
    return run


def test_models_are_recorded_and_the_first_is_not_deflated(fresh_run: Path, tiny_params) -> None:
    first = train_model(fresh_run, "logistic", 10, params=tiny_params(all_models()["logistic"]))
    dsr = json.loads((first.directory / "metrics.json").read_text())["trading"]["test"]["deflated_sharpe"]
    assert dsr["dsr"] is None and dsr["display"] == "n/a, 1 trial"
    second = train_model(fresh_run, "lightgbm", 10, params=tiny_params(all_models()["lightgbm"]))
    dsr = json.loads((second.directory / "metrics.json").read_text())["trading"]["test"]["deflated_sharpe"]
    assert dsr["n_trials"] == 2 and 0.0 <= dsr["dsr"] <= 1.0

    trials = read_trials(fresh_run)
    assert set(trials) == {"models/logistic_h10", "models/lightgbm_h10"}
    # the recorded Sharpe is the per-decision net-of-cost one, from the saved test predictions
    data = RunData(fresh_run)
    preds = pl.read_parquet(second.directory / "predictions_test.parquet")
    bars = data.bars(data.decision_timeframe)
    entry = preds.join(bars.select("timestamp", "close"), on="timestamp", how="left", maintain_order="left")
    r = decision_net_returns(
        preds["position"].to_numpy(), preds["ret"].to_numpy(), entry["close"].to_numpy(), data.instrument
    )
    t = trials["models/lightgbm_h10"]
    assert t.n_obs == preds.height and t.sr == pytest.approx(r.mean() / r.std(ddof=1))
    assert np.isfinite(t.skew) and t.kurt >= 1.0


def test_metrics_state_coverage_and_thin_evidence(fresh_run: Path, tiny_params) -> None:
    out = train_model(fresh_run, "logistic", 10, params=tiny_params(all_models()["logistic"])).directory
    test = json.loads((out / "metrics.json").read_text())["trading"]["test"]
    labels = RunData(fresh_run).labels(10)
    on_clock = labels.filter(pl.col("split") == "test").height
    rows = pl.read_parquet(out / "predictions_test.parquet").height
    assert test["coverage"] == {"rows_used": rows, "rows_on_clock": on_clock, "share": rows / on_clock}
    assert 0 < test["trading_days"] < 20  # the small run's test split is a few days
    assert any("short test period" in w for w in test["warnings"])
