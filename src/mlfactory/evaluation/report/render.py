"""Assemble the report: sections in a fixed order, one self-contained HTML file in the run directory."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import plotly.offline

from mlfactory.evaluation.report.artifacts import RunArtifacts, load_run
from mlfactory.evaluation.report.html import Section, page
from mlfactory.evaluation.report.sections_backtest import backtest_section
from mlfactory.evaluation.report.sections_compare import same_rows_section
from mlfactory.evaluation.report.sections_cv import cross_validation_section
from mlfactory.evaluation.report.sections_drift import drift_section
from mlfactory.evaluation.report.sections_models import (
    breakdown_section,
    calibration_section,
    confusion_section,
    ensembles_section,
    equity_section,
    importance_section,
    metrics_section,
)
from mlfactory.evaluation.report.sections_run import (
    data_section,
    labels_section,
    manifest_section,
    overview_section,
)

REPORT_FILE = "report.html"


@dataclass(frozen=True)
class Report:
    html: str
    sections: list[Section]


@dataclass(frozen=True)
class ReportResult:
    path: Path
    sections: list[Section]

    def summary(self) -> dict[str, object]:
        """The ``--json`` answer: the report path and each section's id, title and availability."""
        return {
            "report": str(self.path),
            "sections": [{"id": s.id, "title": s.title, "available": s.available} for s in self.sections],
        }


def render_report(run: RunArtifacts) -> Report:
    """The report of a loaded run. Deterministic: the same artifacts give the same bytes."""
    counter = itertools.count(1)

    def next_id() -> str:
        return f"plot-{next(counter)}"

    sections = [
        overview_section(run),
        data_section(run),
        labels_section(run, next_id),
        metrics_section(run),
        equity_section(run, next_id),
        confusion_section(run, next_id),
        calibration_section(run, next_id),
        importance_section(run, next_id),
        ensembles_section(run, next_id),
        same_rows_section(run),
        cross_validation_section(run, next_id),
        breakdown_section(run),
        backtest_section(run, next_id),
        drift_section(run, next_id),
        manifest_section(run),
    ]
    instrument = run.manifest.get("instrument") or {}
    subtitle = " · ".join(
        str(x) for x in (instrument.get("name"), str(run.root), run.manifest.get("created")) if x
    )
    html = page(f"mlfactory run report — {run.symbol}", subtitle, sections, plotly.offline.get_plotlyjs())
    return Report(html=html, sections=sections)


def write_report(run_dir: Path, out: Path | None = None) -> ReportResult:
    """Render the report of ``run_dir`` into ``out`` (default ``RUN/report.html``), atomically."""
    run = load_run(Path(run_dir))
    report = render_report(run)
    path = Path(out) if out is not None else run.root / REPORT_FILE
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(report.html, encoding="utf-8")
    tmp.replace(path)
    return ReportResult(path=path, sections=report.sections)
