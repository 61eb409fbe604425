"""`mlfactory monitor` saves its result in the run; `mlfactory report` draws it. The training period's
bars with their volatility doubled drive the volatility features' PSI over the alert threshold; the same
bars unchanged do not (the features served from raw bars equal the run's: PSI and KS about 0)."""

from __future__ import annotations

import json
import re
import shutil
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest
from run_copies import copy_dataset
from typer.testing import CliRunner

from mlfactory.cli.app import app
from mlfactory.data.synthetic import generate_bars
from mlfactory.evaluation.report import load_run, render_report
from mlfactory.serving.bundle import Bundle, load_bundle
from mlfactory.serving.drift import training_end, used_columns
from mlfactory.serving.drift_results import read_drift_result

# features whose scale follows the volatility of returns (ratios of two volatilities are left out)
VOLATILITY = re.compile(
    r"^(natr|rv|parkinson|garman_klass|rogers_satchell|yang_zhang|range_log_mean|bb_width)_[0-9a-z]+$"
)
RATIOS = re.compile(r"^(rv_ratio|tr_atr_ratio|vol_regime|vol_pctile)_")
SMALL_RUN_BARS = {
    "n_bars": 24_000,
    "start": date(2024, 3, 4),
    "seed": 21,
    "momentum": 0.03,
}  # conftest's small_run
ALL_ROWS = 100_000  # a window longer than the training period: the recent window is all of it


@pytest.fixture(scope="module")
def monitored(tabular_bundles: dict[str, Bundle], small_run: Path, tmp_path_factory: pytest.TempPathFactory):
    """A private copy of the run holding one bundle, and the monitor results (--json) of the training
    period's bars regenerated with the same seed: as they were ("same") and with the daily volatility
    doubled ("doubled"; one day longer, so its result is the latest one)."""
    tmp = tmp_path_factory.mktemp("monitor_report")
    run = copy_dataset(small_run, tmp / "run")
    source = tabular_bundles["meta"].directory
    bundle = Path(shutil.copytree(source, run / "ensembles" / source.name))
    fitted = load_bundle(bundle).fitted
    fit_end = min(training_end(run, fitted[tf]) for tf in used_columns(load_bundle(bundle)))
    results = {}
    for name, vol, cut in (("same", 0.011, fit_end), ("doubled", 0.022, fit_end + 86_400 * 10**9)):
        path = tmp / f"{name}.parquet"
        bars = generate_bars(**SMALL_RUN_BARS, daily_vol=vol)
        bars.filter(pl.col("timestamp").dt.epoch("ns") <= cut).write_parquet(path)
        args = ["monitor", "--bundle", str(bundle), "--data", str(path), "--window", str(ALL_ROWS), "--json"]
        r = CliRunner().invoke(app, args)
        assert r.exit_code == 0, r.output
        results[name] = json.loads(r.stdout)
    return run, bundle, results


def test_the_result_is_saved_in_the_run_and_reads_back_as_printed(monitored) -> None:
    run, bundle, results = monitored
    for result in results.values():
        path = Path(result["artifact"])
        assert path.parent == run / "monitoring" / bundle.name
        assert path.name == re.sub(r"[-:]", "", result["windows"]["predictions"]["end"])[:15] + "Z.json"
        back = read_drift_result(path)
        assert back.config.model_dump() == result["config"] and back.data_sha256 == result["data_sha256"]
        assert back.config.window == ALL_ROWS and back.window_end == datetime.fromisoformat(
            result["windows"]["predictions"]["end"]
        )
        assert [(s.target, s.status) for s in back.scores] == [
            (s["target"], s["status"]) for s in result["scores"]
        ]
        assert back.generation == json.loads((run / "manifest.json").read_text())["generation"]


def test_doubled_volatility_raises_psi_over_the_alert_threshold_and_unshifted_bars_do_not(monitored) -> None:
    _, _, results = monitored
    cfg = results["same"]["config"]
    scores = {
        name: {s["target"]: s for s in r["scores"] if s["kind"] == "feature"} for name, r in results.items()
    }
    # unshifted: the features served from the raw bars are the run's training features, row for row
    assert max(s["psi"] for s in scores["same"].values()) < 1e-9
    assert max(s["ks"] for s in scores["same"].values()) == 0.0
    assert {s["status"] for s in scores["same"].values()} == {"ok"}
    # doubled: every volatility feature alerts; ratios of two volatilities do not move
    vol = sorted(c for c in scores["doubled"] if VOLATILITY.match(c))
    assert len(vol) >= 10, sorted(scores["doubled"])
    assert min(scores["doubled"][c]["psi"] for c in vol) > cfg["psi_alert"]
    assert {scores["doubled"][c]["status"] for c in vol} == {"alert"}
    ratios = [c for c in scores["doubled"] if RATIOS.match(c)]
    assert ratios and max(scores["doubled"][c]["psi"] for c in ratios) < cfg["psi_warn"]


def test_the_report_draws_the_drift_section_from_the_saved_results(monitored) -> None:
    run, bundle, results = monitored
    section = next(s for s in render_report(load_run(run)).sections if s.id == "drift")
    assert section.available and bundle.name in section.body
    assert section.body.count("Plotly.newPlot(") == 3  # PSI/KS bars, predicted classes, PSI over time
    # the latest result (doubled volatility): its features over a threshold, highest PSI first
    over = [s for s in results["doubled"]["scores"] if s["kind"] == "feature" and s["status"] != "ok"]
    over.sort(key=lambda s: (-s["psi"], s["target"]))
    last_table = section.body[section.body.rindex("<table>") :]
    assert re.findall(r"<tr><td>([^<]+)</td>", last_table) == [s["target"] for s in over]


def test_no_save_writes_nothing_out_writes_elsewhere_and_a_bad_config_is_a_user_error(
    monitored, tmp_path: Path
) -> None:
    run, bundle, results = monitored
    before = sorted((run / "monitoring").rglob("*"))
    base = ["monitor", "--bundle", str(bundle), "--data", results["same"]["data"]]
    r = CliRunner().invoke(app, [*base, "--no-save", "--window", "100"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, [*base, "--window", "100", "--out", str(tmp_path / "elsewhere")])
    assert r.exit_code == 0, r.output
    assert sorted((run / "monitoring").rglob("*")) == before
    (written,) = (tmp_path / "elsewhere").iterdir()
    assert (
        f"saved {written}" in " ".join(r.stderr.split()) and read_drift_result(written).config.window == 100
    )
    bad = tmp_path / "monitoring.yaml"
    bad.write_text("psi_warn: 0.5\npsi_alert: 0.2\n")
    r = CliRunner().invoke(app, [*base, "--config", str(bad)])
    assert r.exit_code == 2 and str(bad) in r.output and "psi_warn" in r.output
    r = CliRunner().invoke(app, [*base, "--psi-warn", "0.5"])
    assert r.exit_code == 2 and "the monitor options" in r.output
    r = CliRunner().invoke(app, [*base, "--out", str(bad)])
    assert r.exit_code == 2 and f"--out {bad}: this is a file" in " ".join(r.output.split())
