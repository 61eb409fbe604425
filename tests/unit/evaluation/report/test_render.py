"""The report of a complete run and of partial runs: content, escaping, degradation, determinism."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import plotly.offline
import polars as pl
import pytest
from html_tables import find_table, tables_by_section
from sklearn.metrics import confusion_matrix

from mlfactory.evaluation.report import load_run, render_report, write_report
from mlfactory.evaluation.report.figures import equity_figure
from mlfactory.evaluation.report.html import fmt
from mlfactory.evaluation.report.sections_models import confusion_matrix_of
from mlfactory.evaluation.sharpe_intervals import format_sharpe

SECTION_IDS = [
    "overview", "data", "labels", "metrics", "equity", "confusion", "calibration", "importance", "ensembles", "same_rows", "cv",
    "breakdown", "backtests", "drift", "manifest",
]  # fmt: skip
NA = "not available in this run"


@pytest.fixture(scope="module")
def report_html(built_run: Path) -> str:
    return render_report(load_run(built_run)).html


def test_complete_run_has_every_section_available(built_run: Path, tmp_path: Path) -> None:
    result = write_report(built_run, out=tmp_path / "r.html")
    assert [s.id for s in result.sections] == SECTION_IDS
    # everything but the walk-forward and drift sections (this run has no backtest and no monitor
    # result; test_walk_forward and integration/serving/test_monitor_report render them)
    assert all(s.available for s in result.sections if s.id not in ("backtests", "drift"))
    summary = result.summary()
    assert summary["report"] == str(tmp_path / "r.html") and len(summary["sections"]) == len(SECTION_IDS)


def test_plotly_is_embedded_once_and_nothing_is_fetched(report_html: str) -> None:
    js = plotly.offline.get_plotlyjs()
    assert report_html.count(js) == 1
    rest = report_html.replace(js, "")
    assert "<script src" not in rest and "<link" not in rest and "cdn.plot.ly" not in rest
    assert (
        rest.count("Plotly.newPlot(") == 10
    )  # labels, equity, 4 confusion, calibration, importance, OOF, CPCV


def test_report_is_deterministic(built_run: Path, tmp_path: Path) -> None:
    a = write_report(built_run, out=tmp_path / "a.html").path.read_bytes()
    b = write_report(built_run, out=tmp_path / "b.html").path.read_bytes()
    assert a == b


def test_overview_rows_show_the_stored_metrics(built_run: Path, report_html: str) -> None:
    table = find_table(report_html, "overview", "name")
    header, rows = table[0], {r[0]: dict(zip(table[0], r, strict=True)) for r in table[1:]}
    assert sorted(rows) == ["dirichlet_h6", "logistic_h12", "logistic_h6", "stack_h6"] and "PBO" in header
    for kind, name in (("models", "logistic_h6"), ("ensembles", "stack_h6")):
        m = json.loads((built_run / kind / name / "metrics.json").read_text())
        row = rows[name]
        assert row["log loss"] == fmt(m["classification"]["test"]["model"]["log_loss"])
        assert row["log loss (prior)"] == fmt(m["classification"]["test"]["prior"]["log_loss"])
        strategy = m["trading"]["test"]["strategy"]
        assert row["Sharpe ± SE [95 % CI]"] == format_sharpe(strategy)
        assert (
            " ± " in row["Sharpe ± SE [95 % CI]"] and strategy["sharpe_ci_low"] < strategy["sharpe_ci_high"]
        )
        assert row["trades"] == fmt(m["trading"]["test"]["strategy"]["trade_count"])
        assert row["deflated Sharpe"] == fmt(m["overfitting"]["deflated_sharpe"]["dsr"])
        assert row["PBO"] == fmt(m["overfitting"]["pbo"]["pbo"])
    assert rows["dirichlet_h6"]["PBO"] == "—"  # no overfitting statistics stored for it


def test_label_table_counts_match_the_label_files(built_run: Path, report_html: str) -> None:
    table = find_table(report_html, "labels", "horizon")
    for row in table[1:]:
        y = pl.read_parquet(built_run / "labels" / f"{row[0]}.parquet")["label"].to_numpy()
        assert row[1:5] == [
            fmt(y.shape[0]),
            fmt(int((y == -1).sum())),
            fmt(int((y == 0).sum())),
            fmt(int((y == 1).sum())),
        ]


def test_confusion_matrix_matches_sklearn_and_the_stored_metrics(built_run: Path) -> None:
    for model in load_run(built_run).models:
        stored = json.loads((model.path / "metrics.json").read_text())["classification"]["test"]["model"]
        got = confusion_matrix_of(model)
        if model.predictions is not None:
            p = model.predictions.select("p_short", "p_neutral", "p_long").to_numpy()
            pred = np.array([-1, 0, 1])[np.argmax(p, axis=1)]
            want = confusion_matrix(model.predictions["label"].to_numpy(), pred, labels=[-1, 0, 1])
            np.testing.assert_array_equal(got, want)
        assert got == stored["confusion_matrix"]  # metrics-only models fall back to metrics.json


def test_equity_figure_draws_models_with_equity_and_both_baselines(built_run: Path) -> None:
    fig = equity_figure(load_run(built_run).models)
    names = [t.name for t in fig.data if t.showlegend is not False]
    assert names == ["dirichlet_h6", "buy and hold", "always flat", "logistic_h6", "stack_h6 (ensemble)"]
    eq = pl.read_parquet(built_run / "models" / "logistic_h6" / "equity_test.parquet")
    trace = next(t for t in fig.data if t.name == "logistic_h6")
    np.testing.assert_allclose(trace.y, eq["equity_currency"].to_numpy())  # short series: not thinned


def test_guard_marks_the_kept_candidate(built_run: Path, report_html: str) -> None:
    guard = json.loads((built_run / "ensembles" / "stack_h6" / "metrics.json").read_text())["guard"]
    table = find_table(report_html, "ensembles", "candidate")
    kept = {r[0].replace(" ", "_"): r for r in table[1:] if r[2] == "yes"}
    assert list(kept) == [guard["kept"]]
    assert kept[guard["kept"]][1] == fmt(guard[guard["kept"]])


def test_breakdown_lists_sessions_and_regimes_in_order(report_html: str) -> None:
    tables = tables_by_section(report_html)["breakdown"]
    assert [r[0] for r in tables[0][1:]] == ["asia", "europe", "us"]
    assert [r[0] for r in tables[1][1:]] == ["low", "mid", "high", "warmup"]


def test_names_are_escaped_everywhere(run_copy: Callable[[str], Path]) -> None:
    run = run_copy("run")
    evil = "<img src=x onerror=alert(1)>_h6"
    shutil.move(run / "models" / "logistic_h6", run / "models" / evil)
    html = render_report(load_run(run)).html
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;_h6" in html


def test_non_finite_metrics_render_as_na_and_infinity(run_copy: Callable[[str], Path]) -> None:
    run = run_copy("run")
    path = run / "models" / "logistic_h6" / "metrics.json"
    m = json.loads(path.read_text())
    m["classification"]["test"]["model"]["log_loss"] = float("nan")
    m["trading"]["test"]["strategy"]["sharpe"] = float("inf")
    m["trading"]["test"]["buy_and_hold"]["sharpe"] = float("-inf")
    path.write_text(json.dumps(m, allow_nan=True))
    table = find_table(render_report(load_run(run)).html, "overview", "name")
    row = dict(zip(table[0], next(r for r in table if r[0] == "logistic_h6"), strict=True))
    assert row["log loss"] == "n/a"
    assert row["Sharpe ± SE [95 % CI]"].startswith("∞ ± ") and row["Sharpe (buy & hold)"].startswith("−∞ ± ")


def test_data_only_run_degrades_section_by_section(run_copy: Callable[[str], Path]) -> None:
    run = run_copy("run")
    for sub in ("models", "ensembles", "labels"):
        shutil.rmtree(run / sub)
    report = render_report(load_run(run))
    available = {s.id: s.available for s in report.sections}
    assert available == {i: i in ("overview", "data", "manifest") for i in SECTION_IDS}
    for s in report.sections:
        if not s.available:
            assert NA in s.body
    manifest = json.loads((run / "manifest.json").read_text())
    del manifest["validation"], manifest["versions"]
    (run / "manifest.json").write_text(json.dumps(manifest))
    report = render_report(load_run(run))
    data = next(s for s in report.sections if s.id == "data")
    assert not data.available and f"validation summary: {NA}" in data.body
    assert f"package versions: {NA}" in report.sections[-1].body


def test_missing_pieces_of_one_model_are_reported_not_fatal(run_copy: Callable[[str], Path]) -> None:
    run = run_copy("run")
    (run / "models" / "dirichlet_h6" / "metrics.json").unlink()
    (run / "ensembles" / "stack_h6" / "equity_test.parquet").unlink()
    m = json.loads((run / "ensembles" / "stack_h6" / "metrics.json").read_text())
    del m["oof_correlation"], m["guard"]
    (run / "ensembles" / "stack_h6" / "metrics.json").write_text(json.dumps(m))
    loaded = load_run(run)
    report = render_report(loaded)
    body = {s.id: s.body for s in report.sections}
    assert f"metrics.json of dirichlet_h6: {NA}" in body["metrics"]
    assert f"OOF correlation of stack_h6: {NA}" in body["ensembles"]
    assert f"of stack_h6: {NA}" in body["ensembles"]  # the guard
    assert body["confusion"].count("Plotly.newPlot(") == 4  # dirichlet from its predictions still
    assert "stack_h6 (ensemble)" not in [t.name for t in equity_figure(loaded.models).data]


def test_cv_section_shows_folds_and_cpcv_path_sharpes(built_run: Path, report_html: str) -> None:
    from mlfactory.data.instruments import Instrument
    from mlfactory.evaluation.cv_statistics import cpcv_path_sharpes, fold_metrics, path_sharpe_summary
    from mlfactory.evaluation.report.sections_cv import decision_outcomes

    tables = tables_by_section(report_html)["cv"]
    oof = pl.read_parquet(built_run / "models" / "logistic_h6" / "oof.parquet")
    outcomes = decision_outcomes(built_run, 6)
    instrument = Instrument.model_validate(
        json.loads((built_run / "manifest.json").read_text())["instrument"]
    )
    folds = fold_metrics(oof, outcomes, instrument)
    fold_table = next(t for t in tables if t[0][0] == "fold" and len(t) == 1 + len(folds))
    assert len(folds) == 15 and fold_table[1][2] == fmt(folds[0]["log_loss"])
    summary = path_sharpe_summary(cpcv_path_sharpes(oof, outcomes, 6, instrument))
    kv = {row[0]: row[1] for t in tables for row in t if len(row) == 2}
    assert kv["n_paths"] == "5" and kv["q50"] == fmt(summary["q50"])
    assert "PBO of stack_h6" in kv


def test_metrics_show_coverage_and_thin_evidence_warnings(built_run: Path, report_html: str) -> None:
    m = json.loads((built_run / "models" / "logistic_h6" / "metrics.json").read_text())["trading"]["test"]
    assert m["trading_days"] < 20 and m["warnings"]  # the quick demo sample is a few days long
    assert "short test period" in report_html and 'class="warn"' in report_html
    assert f"{m['coverage']['rows_used']:,} of {m['coverage']['rows_on_clock']:,} decisions" in report_html
    overview = find_table(report_html, "overview", "name")
    assert "coverage" in overview[0]


def test_same_rows_comparison_scores_every_model_on_the_shared_decisions(
    built_run: Path, report_html: str
) -> None:
    from sklearn.metrics import log_loss

    t = find_table(report_html, "same_rows", "name")
    rows = {r[0]: dict(zip(t[0], r, strict=True)) for r in t[1:]}
    assert set(rows) == {"dirichlet_h6", "logistic_h6", "stack_h6"}
    preds = {n: pl.read_parquet(built_run / k / n / "predictions_test.parquet") for k, n in
             (("models", "dirichlet_h6"), ("models", "logistic_h6"), ("ensembles", "stack_h6"))}  # fmt: skip
    shared = set.intersection(*(set(p["timestamp"].to_list()) for p in preds.values()))
    for name, p in preds.items():
        assert rows[name]["rows used"] == fmt(len(shared)) and rows[name]["own rows"] == fmt(p.height)
        sub = p.filter(pl.col("timestamp").is_in(list(shared))).sort("timestamp")
        want = log_loss(
            sub["label"], sub.select("p_short", "p_neutral", "p_long").to_numpy(), labels=[-1, 0, 1]
        )
        assert rows[name]["log loss"] == fmt(want)
    assert rows["stack_h6"]["Sharpe / decision (net)"] != "—"


def test_importance_json_gives_mdi_mda_and_clustered_panels(run_copy: Callable[[str], Path]) -> None:
    from mlfactory.adapters.views import TabularView
    from mlfactory.evaluation.feature_importance import model_feature_importance, write_importance
    from mlfactory.models.base import Dataset, make_params
    from mlfactory.models.registry import all_models

    rng = np.random.default_rng(0)
    s = rng.normal(size=400)
    x = np.column_stack([s, s + 0.05 * rng.normal(size=400), rng.normal(size=400)]).astype(np.float32)
    y = np.where(s > 0.4, 1, np.where(s < -0.4, -1, 0)).astype(np.int8)
    view = TabularView(x, np.arange(400, dtype=np.int64), ("a", "a_copy", "noise"))
    cls = all_models()["random_forest"]
    model = cls(make_params(cls, {"n_estimators": 10}), seed=0, n_jobs=1).fit(Dataset(view, y), None)
    run = run_copy("run")
    write_importance(
        run / "models" / "dirichlet_h6", model_feature_importance(model, view, y, list(view.feature_names))
    )
    body = next(s for s in render_report(load_run(run)).sections if s.id == "importance").body
    for caption in ("MDA (validation)", "clustered MDA (validation)", "MDI (trees)", "clustered MDI (trees)"):
        assert f"dirichlet_h6: {caption}" in body
    assert '"error_x"' in body
