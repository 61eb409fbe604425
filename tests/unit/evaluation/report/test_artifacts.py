"""Reading a run directory: missing artifacts are None, broken ones raise ArtifactError naming the file."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from mlfactory.errors import ArtifactError
from mlfactory.evaluation.report.artifacts import dig, load_run, overfitting_headline


def test_load_run_finds_every_model_ensemble_and_label_file(built_run: Path) -> None:
    run = load_run(built_run)
    assert [(m.kind, m.name) for m in run.models] == [
        ("model", "dirichlet_h6"),
        ("model", "logistic_h12"),
        ("model", "logistic_h6"),
        ("ensemble", "stack_h6"),
    ]
    files = sorted(int(p.stem[1:]) for p in (built_run / "labels").glob("h*.parquet"))
    assert list(run.labels) == files and {6, 12} <= set(files)  # the pipeline may label more horizons
    partial = run.models[1]
    assert partial.metrics is not None and partial.predictions is None and partial.equity is None
    full = run.models[2]
    assert full.predictions is not None and full.predictions.columns[:2] == ["timestamp", "label"]
    assert full.predictions["timestamp"].is_sorted()


def test_not_a_run_directory(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="no such directory"):
        load_run(tmp_path / "nope")
    with pytest.raises(ArtifactError, match="not a run directory"):
        load_run(tmp_path)


def test_broken_metrics_json_names_the_file(run_copy: Callable[[str], Path]) -> None:
    run = run_copy("run")
    path = run / "models" / "logistic_h6" / "metrics.json"
    path.write_text('{"model": "logistic", ')
    with pytest.raises(ArtifactError, match=r"logistic_h6/metrics\.json: not valid JSON"):
        load_run(run)
    path.write_text("[1, 2]")
    with pytest.raises(ArtifactError, match="expected a JSON object"):
        load_run(run)


def test_parquet_without_required_columns_names_them(run_copy: Callable[[str], Path]) -> None:
    run = run_copy("run")
    path = run / "ensembles" / "stack_h6" / "predictions_test.parquet"
    pl.read_parquet(path).drop("p_long").write_parquet(path)
    with pytest.raises(ArtifactError, match=r"predictions_test\.parquet: missing column\(s\) p_long"):
        load_run(run)
    path.write_bytes(b"not parquet")
    with pytest.raises(ArtifactError, match="not a readable parquet file"):
        load_run(run)


def test_equity_optional_columns_may_be_absent(run_copy: Callable[[str], Path]) -> None:
    run = run_copy("run")
    path = run / "models" / "logistic_h6" / "equity_test.parquet"
    pl.read_parquet(path).drop("buy_and_hold_equity", "drawdown_currency").write_parquet(path)
    model = next(m for m in load_run(run).models if m.name == "logistic_h6")
    assert model.equity is not None and model.equity.columns == ["timestamp", "equity_currency"]


def test_dig_and_overfitting_headline(built_run: Path) -> None:
    metrics = json.loads((built_run / "models" / "logistic_h6" / "metrics.json").read_text())
    assert (
        dig(metrics, "classification", "test", "model", "log_loss")
        == metrics["classification"]["test"]["model"]["log_loss"]
    )
    assert dig(metrics, "classification", "nope", "model") is None
    assert dig(None, "a") is None
    assert (
        overfitting_headline(metrics, "deflated_sharpe") == metrics["overfitting"]["deflated_sharpe"]["dsr"]
    )
    assert overfitting_headline(metrics, "pbo") == metrics["overfitting"]["pbo"]["pbo"]
    assert overfitting_headline(metrics | {"overfitting": {"pbo": {"n": 3}}}, "pbo") is None
    assert overfitting_headline(metrics | {"overfitting": {}}, "deflated_sharpe") is None
    with pytest.raises(ArtifactError, match="kind"):  # one schema: no guessing among spellings
        overfitting_headline({"overfitting": {"pbo": 0.25}}, "pbo")


def test_invalid_predictions_name_the_file(run_copy: Callable[[str], Path]) -> None:
    run = run_copy("run")
    path = run / "models" / "dirichlet_h6" / "predictions_test.parquet"
    good = pl.read_parquet(path)
    good.with_columns(pl.col("p_long") * 0.5).write_parquet(path)
    with pytest.raises(ArtifactError, match=r"dirichlet_h6/predictions_test\.parquet: row 0 sums to"):
        load_run(run)
    good.with_columns(pl.col("label") * 2).write_parquet(path)
    with pytest.raises(ArtifactError, match="column label must hold -1, 0 or 1"):
        load_run(run)


def test_deflated_sharpe_is_recomputed_against_every_trial_in_the_registry(
    run_copy: Callable[[str], Path],
) -> None:
    from mlfactory.evaluation.overfitting import deflated_sharpe_ratio
    from mlfactory.evaluation.trials import Trial, record_trial

    run = run_copy("run")
    record_trial(run, Trial("models/logistic_h6", "model", 6, "test", 0.08, -0.2, 4.0, 400))
    only = load_run(run).models[2]
    assert only.section("overfitting", "dsr") is None
    assert only.section("overfitting", "deflated_sharpe", "display") == "n/a, 1 trial"
    # trials recorded later (another model, a tuning trial) deflate the first model too
    record_trial(run, Trial("models/logistic_h6/trial-1", "tuning", 6, "test", 0.02, 0.0, 3.0, 400))
    record_trial(run, Trial("ensembles/stack_h6", "ensemble", 6, "test", 0.05, 0.1, 5.0, 300))
    loaded = load_run(run)
    dsr = loaded.models[2].section("overfitting", "deflated_sharpe")
    expected = deflated_sharpe_ratio(0.08, 3, float(np.var([0.08, 0.02, 0.05], ddof=1)), 400, -0.2, 4.0)
    assert dsr["n_trials"] == 3 and dsr["dsr"] == pytest.approx(expected)
    assert loaded.models[2].section("trading", "test", "deflated_sharpe") == dsr
    assert overfitting_headline(loaded.models[3].metrics, "deflated_sharpe") == pytest.approx(
        loaded.models[3].section("overfitting", "deflated_sharpe", "dsr")
    )
