"""`mlfactory grid` through the real CLI: OOF where `cv` writes it, job records, reuse, --force, ensembles."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from run_copies import copy_dataset
from typer.testing import CliRunner

from mlfactory.cli import app
from mlfactory.errors import ConfigError
from mlfactory.evaluation.trials import TRIALS_FILE, read_trials
from mlfactory.models.registry import all_models
from mlfactory.runtime.jobs import JobStore
from mlfactory.training.grid import parse_models
from mlfactory.training.train import train_model

runner = CliRunner()
TINY = ["-p", "random_forest.n_estimators=10", "-p", "nbeats.epochs=1", "-p", "nbeats.seq_len=8",
        "-p", "nbeats.progress=false"]  # fmt: skip


def grid(run: Path, *extra: str) -> dict:
    args = ["grid", "--run", str(run), "--models", "random_forest,nbeats", "--horizons", "10", "-k", "3"]
    result = runner.invoke(app, [*args, *TINY, *extra, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def job_files(run: Path) -> dict[str, tuple[int, bytes]]:
    return {
        str(p.relative_to(run)): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted((run / "jobs").rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def run(small_run: Path, tmp_path: Path) -> Path:
    return copy_dataset(small_run, tmp_path / "run")


def test_grid_writes_oof_like_cv_records_jobs_and_reuses_them(run: Path, small_run: Path, tmp_path: Path):
    out = grid(run)
    assert out["jobs"]["total"] == out["jobs"]["computed"] == 6 and out["jobs"]["cached"] == 0
    names = [r["name"] for r in out["leaderboard"]["bases"]]
    assert sorted(names) == ["nbeats_h10", "random_forest_h10"]
    assert all(r["coverage"] > 0.5 and r["oof_log_loss"] > 0 for r in out["leaderboard"]["bases"])
    summary = json.loads((run / "grid" / "summary.json").read_text())
    assert len(summary["job_records"]) == 6
    for rec in summary["job_records"]:
        assert rec["wall_seconds"] > 0 and rec["peak_rss_bytes"] > 0 and rec["node"].startswith("host:")
        assert JobStore(run).is_complete(rec["key"])

    # the same OOF file `mlfactory cv` writes, with the same content
    cv_run = shutil.copytree(small_run, tmp_path / "cv_run")
    cv = runner.invoke(app, ["cv", "--run", str(cv_run), "--models", "random_forest", "--horizon", "10",
                             "-k", "3", "-p", "n_estimators=10", "--json"])  # fmt: skip
    assert cv.exit_code == 0, cv.output
    rel = "models/random_forest_h10/oof.parquet"
    assert_frame_equal(pl.read_parquet(run / rel), pl.read_parquet(cv_run / rel), check_exact=True)
    assert (run / "cv" / "purged_k3_h10.json").read_text() == (
        cv_run / "cv" / "purged_k3_h10.json"
    ).read_text()

    first = {
        n: pl.read_parquet(run / "models" / n / "oof.parquet") for n in ("random_forest_h10", "nbeats_h10")
    }
    before = job_files(run)
    again = grid(run)
    assert again["jobs"]["computed"] == 0 and again["jobs"]["cached"] == 6
    assert job_files(run) == before  # nothing rewritten
    assert again["leaderboard"]["bases"] == out["leaderboard"]["bases"]

    changed = grid(run, "-p", "random_forest.max_depth=3")  # a new config: only its jobs are new
    assert changed["jobs"]["computed"] == 3 and changed["jobs"]["cached"] == 3
    forced = grid(run, "--force")
    assert forced["jobs"]["computed"] == 6
    for name, frame in first.items():  # recomputed from scratch: the same predictions
        assert_frame_equal(pl.read_parquet(run / "models" / name / "oof.parquet"), frame, check_exact=True)


def test_grid_trains_recipes_per_horizon_on_its_own_jobs_and_keeps_unchanged_ones(
    run: Path, small_run: Path, tmp_path: Path
):
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(
        "name: tiny\nbases: [random_forest, nbeats]\nmeta_learner: logistic\nn_splits: 3\nfallback: none\n"
        "params:\n  random_forest: {n_estimators: 10}\n  nbeats: {epochs: 1, seq_len: 8, progress: false}\n"
    )
    pool = ("--executor", "processes", "--workers", "2")
    grid(run, *pool)
    jobs_before = job_files(run)
    out = grid(run, "--ensembles", str(recipe), *pool)
    summary = json.loads((run / "grid" / "summary.json").read_text())
    # the recipe's bases are the grid's models with the same config: every OOF fold is read back
    assert summary["ensembles"]["tiny_h10"]["oof_jobs"] == {"computed": 0, "reused": 6}
    assert {k: v for k, v in job_files(run).items() if k in jobs_before} == jobs_before  # untouched
    # ...and the bundle is the one `train-ensemble` computes from scratch, in-process
    alone = shutil.copytree(small_run, tmp_path / "alone")
    result = runner.invoke(
        app, ["train-ensemble", "--run", str(alone), "--recipe", str(recipe), "-H", "10", "--json"]
    )
    assert result.exit_code == 0, result.output
    for name in ("oof_stack.parquet", "predictions_test.parquet", *BASE_OOF):
        assert_frame_equal(
            pl.read_parquet(run / "ensembles/tiny_h10" / name),
            pl.read_parquet(alone / "ensembles/tiny_h10" / name),
            check_exact=True,
        )
    m_grid, m_alone = (json.loads((r / "ensembles/tiny_h10/metrics.json").read_text()) for r in (run, alone))
    assert m_grid["classification"] == m_alone["classification"] and m_grid["guard"] == m_alone["guard"]
    for r in (run, alone):  # the recipe's fallback reaches the bundle both ways
        assert json.loads((r / "ensembles/tiny_h10/ensemble.json").read_text())["fallback"]["rule"] == "none"
    assert [r["name"] for r in out["leaderboard"]["ensembles"]] == ["tiny_h10"]
    assert (run / "ensembles" / "tiny_h10" / "metrics.json").is_file()
    metrics_mtime = (run / "ensembles" / "tiny_h10" / "metrics.json").stat().st_mtime_ns
    assert summary["ensembles"]["tiny_h10"]["cached"] is False
    assert summary["ensembles"]["tiny_h10"]["peak_rss_bytes"] > 0
    grid(run, "--ensembles", str(recipe))
    summary = json.loads((run / "grid" / "summary.json").read_text())
    assert summary["ensembles"]["tiny_h10"]["cached"] is True
    assert (run / "ensembles" / "tiny_h10" / "metrics.json").stat().st_mtime_ns == metrics_mtime


BASE_OOF = ("bases/random_forest/oof.parquet", "bases/nbeats/oof.parquet")


def test_recipe_bases_with_other_params_or_outside_models_are_computed_the_rest_reused(
    run: Path, small_run: Path, tmp_path: Path
):
    recipe = tmp_path / "mixed.yaml"
    recipe.write_text(  # random_forest deeper than the grid's, lightgbm not in --models, logistic as in the grid
        "name: mixed\nbases: [random_forest, logistic, lightgbm]\nmeta_learner: ridge_meta\nn_splits: 3\n"
        "params:\n  random_forest: {n_estimators: 10, max_depth: 3}\n  lightgbm: {n_estimators: 10}\n"
    )
    args = ["grid", "--run", str(run), "--models", "random_forest,logistic", "--horizons", "10", "-k", "3",
            "-p", "random_forest.n_estimators=10", "--ensembles", str(recipe), "--json"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads((run / "grid" / "summary.json").read_text())
    assert summary["ensembles"]["mixed_h10"]["oof_jobs"] == {"computed": 6, "reused": 3}
    assert len([p for p in (run / "jobs").iterdir() if (p / "complete").is_file()]) == 6 + 6 + 1
    ens = run / "ensembles/mixed_h10/bases"
    assert_frame_equal(  # the grid's logistic folds, read back
        pl.read_parquet(ens / "logistic/oof.parquet"),
        pl.read_parquet(run / "models/logistic_h10/oof.parquet"),
    )
    grid_rf = pl.read_parquet(run / "models/random_forest_h10/oof.parquet")
    assert not pl.read_parquet(ens / "random_forest/oof.parquet").equals(
        grid_rf
    )  # its own params, not the grid's
    alone = shutil.copytree(small_run, tmp_path / "alone")
    result = runner.invoke(
        app, ["train-ensemble", "--run", str(alone), "--recipe", str(recipe), "-H", "10", "--json"]
    )
    assert result.exit_code == 0, result.output
    for name in ("oof_stack.parquet", "predictions_test.parquet", *(f"bases/{b}/oof.parquet" for b in
                 ("random_forest", "logistic", "lightgbm"))):  # fmt: skip
        assert_frame_equal(
            pl.read_parquet(run / "ensembles/mixed_h10" / name),
            pl.read_parquet(alone / "ensembles/mixed_h10" / name),
            check_exact=True,
        )


def test_models_all_means_every_base_model():
    names = parse_models("all")
    families = {n: all_models()[n].family.value for n in names}
    assert {"lightgbm", "logistic", "tcn", "nbeats", "patchtst"} <= set(names)
    assert not {"meta", "ensemble"} & set(families.values())
    with pytest.raises(ConfigError, match="meta-learner"):
        parse_models("lightgbm,ridge_meta")


def test_user_errors_exit_2_with_a_message(run: Path):
    for args, msg in (
        (["--horizons", "7"], "not in the run"),
        (["--horizons", "x"], "comma-separated integers"),
        (["--horizons", "10", "--executor", "threads"], "unknown kind"),
        (["--horizons", "10", "--ray-address", "auto"], "needs --executor ray"),
    ):
        result = runner.invoke(app, ["grid", "--run", str(run), "--models", "random_forest", *args])
        assert result.exit_code == 2, result.output
        assert msg in result.output


def test_tune_runs_trials_on_the_executor_records_them_and_a_rerun_reuses_study_and_jobs(
    run: Path, tiny_params
):
    args = ["--models", "random_forest", "--tune", "3", "--tune-batch", "2"]
    first = runner.invoke(app, ["grid", "--run", str(run), *args[:2], "--horizons", "10", "-k", "3",
                                "-p", "random_forest.n_estimators=10", *args[2:], "--executor", "processes",
                                "--workers", "2", "--json"])  # fmt: skip
    assert first.exit_code == 0, first.output
    out = json.loads(first.stdout)
    tuned = out["tuning"]["random_forest_h10"]
    assert tuned["trials"] == 3 and tuned["best_log_loss"] > 0
    best = json.loads((run / "models/random_forest_h10/best_params.json").read_text())
    assert best["n_trials"] == 3 and best["best_params"] == tuned["best_params"]
    assert (run / "tuning" / "random_forest_h10.journal").stat().st_size > 0
    # every trial (3, none pruned before the pruner's 4 start-up trials) in the run's registry, once
    trials = read_trials(run)
    ids = [f"models/random_forest_h10/trial-{k}" for k in range(3)]
    assert sorted(trials) == ids
    n_decisions = pl.read_parquet(run / "models/random_forest_h10/oof.parquet")["timestamp"].n_unique()
    for t in trials.values():  # each trial's OOF returns net of costs, on every OOF decision
        assert t.kind == "tuning" and t.split == "oof" and t.horizon == 10
        assert t.n_obs == n_decisions and np.isfinite(t.sr) and t.sr != 0
    assert len({t.sr for t in trials.values()}) == 3
    lines = (run / TRIALS_FILE).read_text().splitlines()
    again = runner.invoke(app, ["grid", "--run", str(run), *args[:2], "--horizons", "10", "-k", "3",
                                "-p", "random_forest.n_estimators=10", *args[2:], "--json"])  # fmt: skip
    assert again.exit_code == 0, again.output
    out2 = json.loads(again.stdout)
    assert out2["tuning"]["random_forest_h10"]["trials"] == 3  # the study continued, no new trials
    assert out2["jobs"]["computed"] == 0 and out2["jobs"]["cached"] == 3  # same best params → same keys
    assert (run / TRIALS_FILE).read_text().splitlines() == lines  # no trial recorded twice
    # the deflated Sharpe of a model trained next counts the three trials
    model = train_model(run, "logistic", 10, params=tiny_params(all_models()["logistic"]))
    dsr = json.loads((model.directory / "metrics.json").read_text())["trading"]["test"]["deflated_sharpe"]
    assert dsr["n_trials"] == 4
