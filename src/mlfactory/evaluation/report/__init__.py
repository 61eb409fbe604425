"""The run report (one self-contained HTML file) and the leaderboard across runs."""

from mlfactory.evaluation.report.artifacts import EvaluatedModel, RunArtifacts, load_run
from mlfactory.evaluation.report.leaderboard import (
    DEFAULT_METRIC,
    METRIC_DIRECTIONS,
    Leaderboard,
    build_leaderboard,
    find_runs,
)
from mlfactory.evaluation.report.render import Report, ReportResult, render_report, write_report

__all__ = [
    "DEFAULT_METRIC",
    "METRIC_DIRECTIONS",
    "EvaluatedModel",
    "Leaderboard",
    "Report",
    "ReportResult",
    "RunArtifacts",
    "build_leaderboard",
    "find_runs",
    "load_run",
    "render_report",
    "write_report",
]
