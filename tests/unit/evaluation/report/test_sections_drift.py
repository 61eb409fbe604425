"""The Drift section: drawn from the monitor results under RUN/monitoring, absent with a note without them."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from html_tables import tables_by_section

from mlfactory.evaluation.report import load_run, render_report
from mlfactory.evaluation.report.sections_drift import (
    drift_scores_figure,
    drift_section,
    psi_history_figure,
    worst_features,
)
from mlfactory.serving.drift import CLASS_NAMES, DriftConfig, ks, psi
from mlfactory.serving.drift_results import default_results_dir, read_run_drift_results, write_drift_result

CFG = DriftConfig(window=300, psi_warn=0.1, psi_alert=0.25, ks_alert=0.2)
FEATURES = [f"f{i:02d}" for i in range(12)]


def drift_result(end: str, shift: float, generation: str | None, seed: int = 0) -> dict[str, Any]:
    """A monitor result with scores from the real PSI/KS: feature i's recent sample is shifted by shift·i/12."""
    rng = np.random.default_rng(seed)
    scores = []
    for i, name in enumerate(FEATURES):
        ref, cur = rng.normal(size=2_000), rng.normal(shift * i / len(FEATURES), 1.0, size=CFG.window)
        p, k = psi(ref, cur, CFG.bins), ks(ref, cur)
        scores.append({"target": name, "kind": "feature", "timeframe": "5m" if i % 2 else "15m", "psi": p,
                       "ks": k, "n_reference": 2_000, "n_recent": CFG.window, "status": CFG.status(p, k)})  # fmt: skip
    scores.append({"target": "predicted_class", "kind": "prediction", "timeframe": None, "psi": 0.05, "ks": 0.1,
                   "n_reference": 900, "n_recent": CFG.window, "status": "ok"})  # fmt: skip
    span = {"rows": CFG.window, "start": "2024-04-01T00:00:00Z", "end": end}
    return {
        "bundle": "RUN/ensembles/stack", "bundle_id": "stack", "bundle_sha256": "ab" * 32, "generation": generation,
        "data": "recent.parquet", "data_sha256": "cd" * 32, "config": CFG.model_dump(),
        "conventions": {"symbol": "MES", "format": "generic", "stamp": "close", "timezone": "America/Chicago"},
        "windows": {"5m": span, "predictions": span},
        "summary": {s: sum(x["status"] == s for x in scores) for s in ("ok", "warn", "alert")},
        "class_shares": {"classes": list(CLASS_NAMES), "reference": [0.3, 0.4, 0.3], "recent": [0.5, 0.2, 0.3]},
        "scores": scores,
    }  # fmt: skip


def _write(run: Path, *results: dict[str, Any]) -> None:
    for r in results:
        write_drift_result(r, default_results_dir(run / "ensembles" / r["bundle_id"]))


def _generation(run: Path) -> str:
    return json.loads((run / "manifest.json").read_text())["generation"]


def _ids() -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"plot-{next(counter)}"


def test_without_results_the_section_is_absent_with_a_one_line_note(built_run: Path) -> None:
    section = drift_section(load_run(built_run), _ids())
    assert not section.available
    assert section.body.count("<p") == 1 and "not available in this run" in section.body
    assert "mlfactory monitor" in section.body and "Plotly.newPlot(" not in section.body


def test_section_draws_scores_classes_the_over_threshold_table_and_psi_over_time(
    run_copy: Callable[[str], Path],
) -> None:
    run = run_copy("run")
    gen = _generation(run)
    _write(
        run,
        drift_result("2024-04-02T21:00:00Z", 0.0, gen, seed=1),
        drift_result("2024-04-09T21:00:00Z", 1.5, gen),
    )
    report = render_report(load_run(run))
    section = next(s for s in report.sections if s.id == "drift")
    assert section.available
    assert section.body.count("Plotly.newPlot(") == 3  # PSI/KS bars, predicted classes, PSI over time
    latest = read_run_drift_results(run)["stack"][-1]
    over = sorted(
        (s for s in latest.scores if s.kind == "feature" and s.status != "ok"), key=lambda s: -s.psi
    )
    assert len(over) >= 3  # the shifted features cross the thresholds
    table = tables_by_section(report.html)["drift"][-1]
    assert table[0][:3] == ["feature", "timeframe", "PSI"]
    assert [row[0] for row in table[1:]] == [s.target for s in over]


def test_bar_charts_are_sorted_by_psi_and_draw_the_thresholds() -> None:
    from mlfactory.serving.drift_results import DriftResult

    result = DriftResult.model_validate({"format": 1, "created": "2024-04-10T00:00:00Z",
                                         **drift_result("2024-04-09T21:00:00Z", 1.5, "g")})  # fmt: skip
    features = sorted((s for s in result.scores if s.kind == "feature"), key=lambda s: -s.psi)
    fig = drift_scores_figure(features, result)
    psi_bar, ks_bar = fig.data
    assert list(psi_bar.y) == [s.psi for s in features] and list(ks_bar.y) == [s.ks for s in features]
    lines = sorted((shape.yref, shape.y0) for shape in fig.layout.shapes)
    assert lines == [("y", CFG.psi_warn), ("y", CFG.psi_alert), ("y2", CFG.ks_alert)]


def test_psi_over_time_follows_the_worst_features_across_results() -> None:
    from mlfactory.serving.drift_results import DriftResult

    results = [
        DriftResult.model_validate({"format": 1, "created": "2024-04-10T00:00:00Z", **drift_result(end, shift, "g")})
        for end, shift in (("2024-04-02T21:00:00Z", 0.0), ("2024-04-05T21:00:00Z", 0.8), ("2024-04-09T21:00:00Z", 2.0))
    ]  # fmt: skip
    worst = worst_features(results, k=3)
    assert [t for t, _ in worst] == ["f11", "f10", "f09"]  # the most shifted ones
    fig = psi_history_figure(results)
    assert [trace.name for trace in fig.data][:3] == [f"{t} ({tf})" for t, tf in worst]
    first = fig.data[0]
    assert len(first.x) == 3 and first.y[-1] > CFG.psi_alert > first.y[0]


def test_results_of_another_generation_are_left_out(run_copy: Callable[[str], Path]) -> None:
    run = run_copy("run")
    _write(run, drift_result("2024-04-02T21:00:00Z", 1.0, "an-older-generation"))
    section = drift_section(load_run(run), _ids())
    assert not section.available and "1 result(s) of another generation" in section.body
    _write(run, drift_result("2024-04-09T21:00:00Z", 1.0, _generation(run)))
    section = drift_section(load_run(run), _ids())
    assert section.available and section.body.count("Plotly.newPlot(") == 2  # one current result: no history


def test_a_window_without_drift_says_so_instead_of_an_empty_table(run_copy: Callable[[str], Path]) -> None:
    run = run_copy("run")
    _write(run, drift_result("2024-04-02T21:00:00Z", 0.0, _generation(run)))
    section = drift_section(load_run(run), _ids())
    assert section.available and "features over a threshold (0 of 12)" in section.body
    assert "No feature reaches a threshold" in section.body and section.body.count("<table>") == 1


def test_a_long_over_threshold_table_is_folded(run_copy: Callable[[str], Path], monkeypatch) -> None:
    from mlfactory.evaluation.report import sections_drift

    run = run_copy("run")
    _write(run, drift_result("2024-04-09T21:00:00Z", 1.5, _generation(run)))
    open_body = drift_section(load_run(run), _ids()).body
    assert "<details>" not in open_body
    monkeypatch.setattr(sections_drift, "OPEN_ROWS", 2)
    folded = drift_section(load_run(run), _ids()).body
    assert "<details><summary>show all" in folded
    assert folded[folded.index("<details>") :].count("<table>") == 1  # the over-threshold table, inside
