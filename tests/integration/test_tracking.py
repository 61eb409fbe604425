"""Real commands on a small generated run, recorded to the default sqlite store, read back with MlflowClient.

One module-scoped store: ``train``, ``cv`` and ``train-ensemble`` run once through the CLI (tracking
on by default), and each test reads what they recorded.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlfactory.cli import app
from mlfactory.tracking.store import URI_ENV, default_tracking_uri

runner = CliRunner()
TRAIN = ["--model", "lightgbm", "--horizon", "10", "--param", "n_estimators=15"]
CV = ["--models", "logistic,random_forest", "--horizon", "10", "--n-splits", "3", "--param", "random_forest.n_estimators=10"]  # fmt: skip
ENSEMBLE = ["--base-models", "random_forest,svm", "--meta-learner", "logistic", "--horizon", "10", "--n-splits", "3", "--param", "random_forest.n_estimators=10"]  # fmt: skip


def _ok(args: list[str]) -> dict:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # --json: one strict JSON object, MLflow's logs stay off stdout


@pytest.fixture(scope="module")
def recorded(small_run: Path):
    """Run the three commands with the default store; return (client, {command: parent run}, outputs)."""
    from mlflow.tracking import MlflowClient

    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(URI_ENV, raising=False)
        mp.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
        outputs = {
            "train": _ok(["train", "--run", str(small_run), *TRAIN, "--json"]),
            "cv": _ok(["cv", "--run", str(small_run), *CV, "--json"]),
            "train-ensemble": _ok(["train-ensemble", "--run", str(small_run), *ENSEMBLE, "--json"]),
        }
    uri = default_tracking_uri(small_run)
    assert uri == f"sqlite:///{small_run.parent.resolve() / 'mlruns.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("mlfactory")
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    parents = {}
    for command in outputs:
        mine = [
            r for r in runs if r.data.tags.get("command") == command and r.data.tags.get("kind") == "command"
        ]
        parents[command] = max(mine, key=lambda r: r.info.start_time)
    return client, parents, runs, outputs, uri


def _children(runs, parent) -> list:
    return [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]


def _artifacts(client, run, path: str | None = None) -> set[str]:
    return {a.path for a in client.list_artifacts(run.info.run_id, path)}


def _finite(value) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def _non_finite_leaves(node, prefix="") -> set[str]:
    if isinstance(node, dict):
        return set().union(
            *(_non_finite_leaves(v, f"{prefix}.{k}" if prefix else k) for k, v in node.items())
        )
    if isinstance(node, float) and not math.isfinite(node):
        return {prefix}
    return set()


def test_train_is_a_parent_run_with_one_model_child(recorded, small_run: Path) -> None:
    client, parents, runs, outputs, _ = recorded
    parent = parents["train"]
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["symbol"] == "MES" and parent.data.tags["timeframe"] == "5m"
    assert parent.data.params["cli.model"] == "lightgbm" and parent.data.params["cli.horizon"] == "10"
    manifest = json.loads((small_run / "manifest.json").read_text())
    assert parent.data.params["data_sha256"] == manifest["input"]["sha256"]
    assert "run_manifest.json" in _artifacts(client, parent)
    [child] = _children(runs, parent)
    assert child.info.status == "FINISHED"
    assert child.data.tags["kind"] == "model" and child.data.tags["name"] == "lightgbm_h10"
    metrics = json.loads((Path(outputs["train"]["directory"]) / "metrics.json").read_text())
    routing = json.loads((Path(outputs["train"]["directory"]) / "routing.json").read_text())
    # params: resolved model config, routing, horizon, seed, data hash
    p = child.data.params
    assert p["param.n_estimators"] == "15" and p["timeframe"] == routing["timeframe"]
    assert (
        p["horizon"] == "10"
        and p["seed"] == str(metrics["seed"])
        and p["data_sha256"] == manifest["input"]["sha256"]
    )
    assert p["mtf_strategy"] == routing["mtf_strategy"] and p["n_features"] == str(routing["n_features"])
    # metrics: the whole metrics.json flattened, and the headlines (also on the parent)
    m = child.data.metrics
    test = metrics["classification"]["test"]
    assert m["classification.test.model.log_loss"] == pytest.approx(test["model"]["log_loss"])
    assert m["test_log_loss_vs_prior"] == pytest.approx(test["model"]["log_loss"] - test["prior"]["log_loss"])
    assert m["test_sharpe"] == pytest.approx(metrics["trading"]["test"]["strategy"]["sharpe"])
    if metrics["overfitting"]["dsr"] is None:  # the run's first trial: nothing to deflate against
        assert "dsr" not in m
    else:
        assert m["dsr"] == pytest.approx(metrics["overfitting"]["dsr"])
    assert m["coverage"] == pytest.approx(routing["coverage"]["fraction"])
    assert parent.data.metrics["test_log_loss"] == m["test_log_loss"] and parent.data.metrics["seconds"] > 0
    # non-finite values are not logged, and the tag says which and why
    dropped = _non_finite_leaves(metrics)
    assert not dropped & set(m)
    if dropped:
        assert all(k in child.data.tags["non_finite_metrics"] for k in dropped)
    assert {"metrics.json", "routing.json"} <= _artifacts(client, child)
    assert not any(a.endswith(".parquet") for a in _artifacts(client, child))


def test_cv_has_a_run_per_model_and_a_child_per_fold(recorded) -> None:
    client, parents, runs, outputs, _ = recorded
    parent = parents["cv"]
    summary = outputs["cv"]
    models = _children(runs, parent)
    assert sorted(r.data.tags["model"] for r in models) == ["logistic", "random_forest"]
    for model in models:
        entry = summary["models"][model.data.tags["model"]]
        assert model.data.tags["kind"] == "cv" and model.data.params["method"] == "purged"
        assert model.data.metrics["coverage"] == pytest.approx(entry["coverage"])
        folds = _children(runs, model)
        assert sorted(int(f.data.tags["fold"]) for f in folds) == list(range(entry["folds"]))
        assert all(f.data.tags["kind"] == "fold" and "test_start" in f.data.params for f in folds)
        if not _finite(entry["oof_log_loss"]):  # logistic on 1h predicts no row of this small run
            assert "oof_log_loss" not in model.data.metrics
            if entry["oof_log_loss"] is not None:  # NaN in the summary: the tag says why it is missing
                assert "oof_log_loss=nan" in model.data.tags["non_finite_metrics"]
            assert all(f.data.metrics["coverage"] == 0 for f in folds)
            continue
        assert model.data.metrics["oof_log_loss"] == pytest.approx(entry["oof_log_loss"])
        for fold in folds:
            assert fold.data.metrics["oof_rows"] > 0 and 0 < fold.data.metrics["oof_log_loss"] < 5
            assert 0 < fold.data.metrics["coverage"] <= 1
        # the per-fold log losses pool back to the OOF log loss (row-weighted mean)
        rows = sum(f.data.metrics["oof_rows"] for f in folds)
        pooled = sum(f.data.metrics["oof_rows"] * f.data.metrics["oof_log_loss"] for f in folds) / rows
        assert pooled == pytest.approx(entry["oof_log_loss"], rel=1e-9)
    assert any(_finite(e["oof_log_loss"]) for e in summary["models"].values())
    cv_files = _artifacts(client, parent, "cv")
    assert "cv/summary_purged_k3_h10.json" in cv_files and "cv/purged_k3_h10.json" in cv_files


def test_train_ensemble_has_the_ensemble_and_a_child_per_base(recorded) -> None:
    client, parents, runs, outputs, _ = recorded
    [ensemble] = _children(runs, parents["train-ensemble"])
    out = outputs["train-ensemble"]
    assert ensemble.data.tags["kind"] == "ensemble" and ensemble.data.tags["name"] == out["ensemble"]
    assert (
        ensemble.data.params["bases"] == "random_forest,svm"
        and ensemble.data.params["meta_learner"] == "logistic"
    )
    m = ensemble.data.metrics
    assert m["test_log_loss"] == pytest.approx(out["test"]["log_loss"])
    metrics = json.loads((Path(out["directory"]) / "metrics.json").read_text())
    pbo = metrics["overfitting"].get("pbo")
    if isinstance(pbo, dict) and isinstance(pbo.get("pbo"), float) and math.isfinite(pbo["pbo"]):
        assert m["pbo"] == pytest.approx(pbo["pbo"])
    test_cov = metrics["stack_coverage"]["test"]
    assert m["coverage"] == pytest.approx(test_cov["rows_all_bases"] / test_cov["clock_rows"])
    assert {"metrics.json", "ensemble.json"} <= _artifacts(client, ensemble)
    bases = {r.data.tags["name"]: r for r in _children(runs, ensemble)}
    assert set(bases) == {"random_forest", "svm"}
    rf = bases["random_forest"]
    assert rf.data.params["param.n_estimators"] == "10"
    assert rf.data.metrics["oof_log_loss"] == pytest.approx(out["oof_log_loss"]["random_forest"])
    history = client.get_metric_history(rf.info.run_id, "fold_oof_log_loss")
    assert sorted(h.step for h in history) == list(range(metrics["folds"]))
    assert "routing.json" in _artifacts(client, rf)


def test_leaderboard_reads_the_store_with_the_same_columns_and_values(recorded, small_run: Path) -> None:
    from mlfactory.evaluation.report.leaderboard import group_key

    *_, outputs, uri = recorded
    store = _ok(["leaderboard", "--tracking-uri", uri, "--json"])
    disk = _ok(["leaderboard", str(small_run.parent), "--json"])
    assert set(store) == set(disk) and store["metric"] == disk["metric"] == "log_loss"
    assert {r["name"] for r in store["rows"]} >= {"lightgbm_h10", outputs["train-ensemble"]["ensemble"]}
    on_disk = {(r["kind"], r["name"]): r for r in disk["rows"]}
    for row in store["rows"]:
        assert list(row) == list(on_disk[(row["kind"], row["name"])])  # same columns, same order
        assert row["run"] == str(small_run.resolve())
        expected = on_disk[(row["kind"], row["name"])]
        # not the deflated Sharpe: the run-directory leaderboard deflates against every trial recorded
        # so far, the store keeps the value of when the model was trained (other tests add trials)
        for key in ("horizon", "family", "log_loss", "balanced_accuracy", "sharpe"):
            assert row[key] == (
                pytest.approx(expected[key]) if isinstance(expected[key], float) else expected[key]
            )
    for group in {group_key(r) for r in store["rows"]}:  # sorted within each (symbol, timeframe, horizon)
        values = [r["value"] for r in store["rows"] if group_key(r) == group and r["value"] is not None]
        assert values == sorted(values)


def test_the_store_leaderboard_leaves_out_other_generations(recorded, small_run: Path) -> None:
    from mlfactory.tracking.record import RunRecord
    from mlfactory.tracking.recorder import write_record
    from mlfactory.tracking.store import open_store

    *_, uri = recorded
    before = {r["name"]: r["log_loss"] for r in _ok(["leaderboard", "--tracking-uri", uri, "--json"])["rows"]}
    generation = json.loads((small_run / "manifest.json").read_text())["generation"]
    stale = RunRecord("lightgbm_h10", metrics={"classification.test.model.log_loss": 0.001})
    stale.add_tags({"kind": "model", "name": "lightgbm_h10", "run_dir": str(small_run.resolve())})
    stale.add_tags({"generation": f"not-{generation}", "horizon": 10, "family": "boosting"})
    write_record(open_store(uri), stale)  # the newest record of lightgbm_h10, from another generation
    after = {r["name"]: r["log_loss"] for r in _ok(["leaderboard", "--tracking-uri", uri, "--json"])["rows"]}
    assert after == before and after["lightgbm_h10"] != 0.001


def test_a_failing_command_leaves_a_failed_parent_run(recorded, small_run: Path) -> None:
    client, *_, uri = recorded
    result = runner.invoke(app, ["train", "--run", str(small_run), "--model", "no_such_model", "--horizon", "10", "--tracking-uri", uri])  # fmt: skip
    assert result.exit_code == 2
    experiment = client.get_experiment_by_name("mlfactory")
    [failed] = client.search_runs([experiment.experiment_id], "params.`cli.model` = 'no_such_model'")
    assert failed.info.status == "FAILED" and "no_such_model" in failed.data.tags["error"]


def test_no_track_writes_no_store(small_run: Path, tmp_path: Path) -> None:
    db = tmp_path / "mlruns.db"
    _ok(
        [
            "train",
            "--run",
            str(small_run),
            *TRAIN,
            "--tracking-uri",
            f"sqlite:///{db}",
            "--no-track",
            "--json",
        ]
    )
    assert not db.exists() and not (tmp_path / "mlartifacts").exists()


def test_a_store_that_cannot_be_opened_stops_the_command_before_training(
    small_run: Path, tmp_path: Path
) -> None:
    metrics = small_run / "models" / "lightgbm_h10" / "metrics.json"
    before = metrics.stat().st_mtime_ns if metrics.exists() else None
    not_a_db = tmp_path / "store.db"
    not_a_db.mkdir()  # a directory where the database file should be
    uri = f"sqlite:///{not_a_db}"
    result = runner.invoke(app, ["train", "--run", str(small_run), *TRAIN, "--tracking-uri", uri])
    assert result.exit_code == 2
    assert uri in result.output and "--no-track" in result.output
    assert (metrics.stat().st_mtime_ns if metrics.exists() else None) == before


def test_a_run_directory_that_does_not_exist_makes_no_store(tmp_path: Path) -> None:
    result = runner.invoke(app, ["train", "--run", str(tmp_path / "typo"), *TRAIN])
    assert result.exit_code == 2 and "typo" in result.output
    assert list(tmp_path.iterdir()) == []


def test_backtest_is_recorded_with_a_child_per_step(recorded, small_run: Path) -> None:
    client = recorded[0]
    args = [
        "--model",
        "random_forest",
        "--horizon",
        "10",
        "--walk-forward",
        "--train-days",
        "6",
        "--test-days",
        "4",
    ]
    out = _ok(["backtest", "--run", str(small_run), *args, "--param", "n_estimators=10", "--json"])
    experiment = client.get_experiment_by_name("mlfactory")
    [parent] = client.search_runs(
        [experiment.experiment_id],
        "tags.command = 'backtest'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    [bt] = _children(runs, parent)
    metrics = json.loads((Path(out["directory"]) / "metrics.json").read_text())
    assert bt.data.tags["kind"] == "backtest" and bt.data.tags["name"] == Path(out["directory"]).name
    assert (
        bt.data.params["walk_forward.train_days"] == "6" and bt.data.params["walk_forward.test_days"] == "4"
    )
    oos = metrics["classification"]["oos"]["model"]["log_loss"]
    assert bt.data.metrics["oos_log_loss"] == pytest.approx(oos) == parent.data.metrics["oos_log_loss"]
    assert bt.data.metrics["coverage"] == pytest.approx(out["coverage"]["fraction"])
    steps = {int(r.data.tags["step"]): r for r in _children(runs, bt)}
    assert sorted(steps) == [s["step"] for s in out["steps"]]
    for s in out["steps"]:
        if s.get("sharpe") is not None:
            assert steps[s["step"]].data.metrics["sharpe"] == pytest.approx(s["sharpe"])
        assert steps[s["step"]].data.params["test_days"] == ",".join(s["test_days"])
    files = _artifacts(client, bt)
    assert {"metrics.json", "steps.json"} <= files and not any(f.endswith(".parquet") for f in files)
