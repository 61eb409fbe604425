"""Run-level sections: overview, data and validation, label distribution, manifest."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mlfactory.errors import ConfigError
from mlfactory.evaluation.report.artifacts import (
    EvaluatedModel,
    RunArtifacts,
    overfitting_display,
    overfitting_headline,
)
from mlfactory.evaluation.report.figures import figure_html, label_distribution_figure
from mlfactory.evaluation.report.html import (
    Section,
    details,
    fmt,
    heading,
    key_value_table,
    paragraph,
    preformatted,
    table,
    unavailable,
)
from mlfactory.evaluation.sharpe_intervals import format_sharpe
from mlfactory.timeframes import tf_minutes

FigureId = Callable[[], str]
BARRIER_NAMES = {1: "upper", -1: "lower", 0: "vertical", 2: "both"}


def overview_section(run: RunArtifacts) -> Section:
    m = run.manifest
    inp = m.get("input") or {}
    instrument = m.get("instrument") or {}
    n_models = sum(x.kind == "model" for x in run.models)
    n_ensembles = len(run.models) - n_models
    facts = key_value_table(
        [
            ("symbol", run.symbol),
            ("instrument", instrument.get("name")),
            ("run directory", str(run.root)),
            ("input file", inp.get("path")),
            ("input sha256", inp.get("sha256")),
            ("input bytes", inp.get("bytes")),
            ("created", m.get("created")),
            ("seed", m.get("seed")),
            ("horizons labelled", ", ".join(f"h{h}" for h in run.labels) or None),
            ("models / ensembles", f"{n_models} / {n_ensembles}"),
        ]
    )
    body = facts + heading(3, "Test split at a glance")
    rows = [_glance_row(x) for x in run.models if x.metrics is not None]
    if rows:
        body += table(
            [
                "name", "kind", "horizon", "family", "timeframe", "log loss", "log loss (prior)",
                "balanced acc.", "macro F1", "Sharpe ± SE [95 % CI]", "Sharpe (buy & hold)", "max DD (ccy)", "trades",
                "deflated Sharpe", "PBO", "coverage",
            ],
            rows,
        )  # fmt: skip
    else:
        body += unavailable("model and ensemble metrics")
    return Section("overview", "Overview", body, available=True)


def _glance_row(x: EvaluatedModel) -> list[Any]:
    cls = ("classification", "test")
    trd = ("trading", "test")
    return [
        x.name,
        x.kind,
        x.section("horizon"),
        x.section("family") or x.section("meta_learner"),
        x.section("timeframe"),
        x.section(*cls, "model", "log_loss"),
        x.section(*cls, "prior", "log_loss"),
        x.section(*cls, "model", "balanced_accuracy"),
        x.section(*cls, "model", "macro_f1"),
        _sharpe_cell(x.section(*trd, "strategy")),
        _sharpe_cell(x.section(*trd, "buy_and_hold")),
        x.section(*trd, "strategy", "max_drawdown_currency"),
        x.section(*trd, "strategy", "trade_count"),
        overfitting_display(x.metrics, "deflated_sharpe"),
        overfitting_headline(x.metrics, "pbo"),
        x.section(*trd, "coverage", "share"),
    ]


def _sharpe_cell(metrics: Any) -> Any:
    if not isinstance(metrics, dict):
        return None
    return format_sharpe(metrics) if "sharpe_se" in metrics else metrics.get("sharpe")


def data_section(run: RunArtifacts) -> Section:
    v = run.manifest.get("validation")
    if not isinstance(v, dict):
        return Section("data", "Data and validation", unavailable("validation summary"), available=False)
    bps = v.get("bars_per_session") or {}
    gaps = v.get("gaps") or {}
    body = key_value_table(
        [
            ("rows in", v.get("rows_in")),
            ("rows out", v.get("rows_out")),
            ("first bar", v.get("first_timestamp")),
            ("last bar", v.get("last_timestamp")),
            ("trading days", v.get("trading_days")),
            ("bars per session (mean / min / max)", _triple(bps.get("mean"), bps.get("min"), bps.get("max"))),
            ("gaps", gaps.get("count")),
            ("largest gap (minutes)", gaps.get("largest_minutes")),
            ("largest gap at", gaps.get("largest_at")),
        ]
    )
    by_kind = gaps.get("by_kind")
    if isinstance(by_kind, dict) and by_kind:
        body += heading(3, "Gaps by kind") + table(["kind", "count"], sorted(by_kind.items()))
    body += heading(3, "Validation findings")
    findings = v.get("findings")
    counts = v.get("counts")
    if isinstance(findings, dict) and findings:
        items = sorted(findings.items())
        rows = [
            [
                k,
                f.get("count"),
                f.get("policy"),
                f.get("action"),
                f.get("column"),
                f.get("example"),
                f.get("first_row"),
            ]
            for k, f in items
        ]
        flagged = [i for i, (_, f) in enumerate(items) if (f.get("count") or 0) > 0]
        body += table(
            ["problem", "count", "policy", "action", "column", "example", "first row"],
            rows,
            highlight=flagged,
        )
    elif isinstance(counts, dict) and counts:
        body += table(["problem", "count"], sorted(counts.items()))
    else:
        body += unavailable("validation findings")
    ladder = run.manifest.get("ladder_rows")
    if isinstance(ladder, dict) and ladder:
        rows = sorted(ladder.items(), key=lambda kv: _timeframe_order(kv[0]))
        body += heading(3, "Bars per timeframe") + table(["timeframe", "bars"], rows)
    return Section("data", "Data and validation", body, available=True)


def _timeframe_order(tf: str) -> tuple[int, str]:
    try:
        return tf_minutes(tf), tf
    except ConfigError:  # a timeframe this version does not know still gets listed, last
        return 10**9, tf


def _triple(a: Any, b: Any, c: Any) -> str | None:
    if a is None and b is None and c is None:
        return None
    return f"{fmt(a)} / {fmt(b)} / {fmt(c)}"


def labels_section(run: RunArtifacts, next_id: FigureId) -> Section:
    if not run.labels:
        return Section("labels", "Label distribution", unavailable("labels (labels/h<H>.parquet)"), False)
    counts: dict[int, np.ndarray] = {}
    rows = []
    barrier_rows = []
    for h, frame in run.labels.items():
        y = frame["label"].to_numpy()
        c = np.array([(y == -1).sum(), (y == 0).sum(), (y == 1).sum()], dtype=np.int64)
        counts[h] = c
        n = int(y.shape[0])
        share = c / max(n, 1)
        rows.append([f"h{h}", n, *c.tolist(), *share.tolist()])
        if "barrier" in frame.columns:
            b = frame["barrier"].to_numpy()
            barrier_rows.append([f"h{h}", *[int((b == k).sum()) for k in BARRIER_NAMES]])
    body = table(
        ["horizon", "labels", "short", "neutral", "long", "short share", "neutral share", "long share"], rows
    )
    body += figure_html(label_distribution_figure(counts), next_id())
    if barrier_rows:
        body += heading(3, "Barrier touched first") + table(
            ["horizon", *BARRIER_NAMES.values()], barrier_rows
        )
    return Section("labels", "Label distribution", body, available=True)


def manifest_section(run: RunArtifacts) -> Section:
    m = run.manifest
    body = ""
    versions = m.get("versions")
    body += heading(3, "Package versions")
    if isinstance(versions, dict) and versions:
        body += table(["package", "version"], sorted(versions.items()))
    else:
        body += unavailable("package versions")
    body += heading(3, "Stage timings")
    stages = m.get("stages")
    if isinstance(stages, dict) and stages:
        rows = [
            [
                name,
                s.get("seconds"),
                len(s.get("outputs") or []),
                s.get("finished"),
                str(s.get("key") or "")[:12],
            ]
            for name, s in stages.items()
            if isinstance(s, dict)
        ]
        total = sum(r[1] for r in rows if isinstance(r[1], int | float))
        rows.append(["total", total, None, None, None])
        body += table(
            ["stage", "seconds", "outputs", "finished", "cache key"], rows, highlight=[len(rows) - 1]
        )
    else:
        body += unavailable("stage timings")
    body += heading(3, "Configuration")
    if "config" in m:
        body += preformatted(m["config"])
    else:
        body += unavailable("configuration")
    if "instrument" in m:
        body += details("instrument", preformatted(m["instrument"]))
    body += details("the whole manifest.json", preformatted(m))
    body += paragraph(f"Read from {run.root / 'manifest.json'}", "meta")
    return Section("manifest", "Manifest", body, available=bool(m))
