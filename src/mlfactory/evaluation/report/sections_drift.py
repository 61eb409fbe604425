"""The drift section: every ``RUN/monitoring/<bundle-id>/`` written by ``mlfactory monitor``.

Per bundle, from its latest result: PSI and KS per used feature (bars, with the warn/alert
thresholds of that result drawn), the predicted-class shares of the training period vs the recent
window, and the features over a threshold sorted by PSI. With several results of the same bundle
(the same files), PSI over time of the worst features. Results of another generation of the run
(its data or config changed since) are left out and counted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from mlfactory.evaluation.report.artifacts import RunArtifacts
from mlfactory.evaluation.report.figures import TEMPLATE, figure_html
from mlfactory.evaluation.report.html import (
    Section,
    details,
    heading,
    key_value_table,
    paragraph,
    table,
    unavailable,
)
from mlfactory.serving.drift_results import DriftResult, DriftScore, read_run_drift_results

MAX_BARS = 50  # features drawn per bar chart (the worst by PSI)
WORST_OVER_TIME = 5  # features drawn in PSI over time
OPEN_ROWS = 25  # a longer over-threshold table is folded (<details>)
STATUS_COLOURS = {"ok": "#2f8a4f", "warn": "#c27c0e", "alert": "#d64545"}
WARN_LINE = {"color": "#c27c0e", "dash": "dash", "width": 1}
ALERT_LINE = {"color": "#d64545", "dash": "dot", "width": 1}


def drift_section(run: RunArtifacts, next_id: Callable[[], str]) -> Section:
    title = "Drift (training period vs recent windows)"
    by_bundle = read_run_drift_results(run.root)
    generation = run.manifest.get("generation")
    current = {b: [r for r in rs if r.generation == generation] for b, rs in by_bundle.items()}
    stale = sum(len(rs) for rs in by_bundle.values()) - sum(len(rs) for rs in current.values())
    current = {b: rs for b, rs in current.items() if rs}
    if not current:
        what = "drift results (run `mlfactory monitor --bundle RUN/ensembles/<id> --data FILE`)"
        note = f"; {stale} result(s) of another generation of this run left out" if stale else ""
        return Section("drift", title, unavailable(what + note), False)
    body = ""
    if stale:
        body += paragraph(f"{stale} result(s) of another generation of this run left out.", "meta")
    body += "".join(_one_bundle(bundle_id, results, next_id) for bundle_id, results in current.items())
    return Section("drift", title, body, True)


def _one_bundle(bundle_id: str, results: list[DriftResult], next_id: Callable[[], str]) -> str:
    latest = results[-1]
    same = [r for r in results if r.bundle_sha256 == latest.bundle_sha256]
    cfg, win = latest.config, latest.windows.get("predictions")
    out = heading(3, bundle_id)
    out += paragraph(
        f"{len(results)} monitor result(s); the latest compares the recent window of {latest.data} (the last "
        f"{cfg.window} rows at most) with the bundle's training period; the window ends {_utc(latest.window_end)}."
    )
    out += key_value_table(
        [
            ("data file (sha256)", f"{latest.data} ({latest.data_sha256[:12]})"),
            (
                "recent window (decisions)",
                f"{win.rows} rows, {_utc(win.start)} … {_utc(win.end)}" if win else None,
            ),
            (
                "recent rows per feature timeframe",
                ", ".join(f"{tf}: {w.rows}" for tf, w in latest.windows.items() if tf != "predictions"),
            ),
            ("PSI warn / alert (bins)", f"{cfg.psi_warn} / {cfg.psi_alert} ({cfg.bins} quantile bins)"),
            ("KS alert", cfg.ks_alert),
            ("ok / warn / alert", " / ".join(str(latest.summary.get(s, 0)) for s in ("ok", "warn", "alert"))),
            ("monitored at", _utc(latest.created)),
        ]
    )
    features = _by_psi([s for s in latest.scores if s.kind == "feature"])
    if features:
        out += figure_html(drift_scores_figure(features, latest), next_id())
    out += figure_html(class_shares_figure(latest), next_id(), toolbar=False)
    over = [s for s in features if s.status != "ok"]
    out += heading(4, f"features over a threshold ({len(over)} of {len(features)})")
    if over:
        rows = table(
            ["feature", "timeframe", "PSI", "KS", "status", "reference rows", "recent rows"],
            [[s.target, s.timeframe, s.psi, s.ks, s.status, s.n_reference, s.n_recent] for s in over],
        )
        out += rows if len(over) <= OPEN_ROWS else details(f"show all {len(over)}, highest PSI first", rows)
    else:
        out += paragraph("No feature reaches a threshold in the latest window.", "meta")
    if len(same) > 1:
        out += figure_html(psi_history_figure(same), next_id())
    if len(same) < len(results):
        out += paragraph(f"{len(results) - len(same)} result(s) of an earlier version of this bundle left out.", "meta")  # fmt: skip
    return out


def _utc(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else None


def _by_psi(scores: Sequence[DriftScore]) -> list[DriftScore]:
    """Highest PSI first; scores without a PSI (no finite values) last, then by name."""
    return sorted(scores, key=lambda s: (s.psi is None, -(s.psi or 0.0), s.target, s.timeframe or ""))


def _label(s: DriftScore) -> str:
    return f"{s.target} ({s.timeframe})" if s.timeframe else s.target


def drift_scores_figure(features: Sequence[DriftScore], result: DriftResult) -> go.Figure:
    """PSI and KS per feature (the ``MAX_BARS`` worst by PSI), bars coloured by status, thresholds drawn."""
    shown = list(features)[:MAX_BARS]
    more = f" — the {len(shown)} highest of {len(features)}" if len(features) > len(shown) else ""
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
        subplot_titles=(f"PSI per feature{more}", "KS statistic per feature"),
    )  # fmt: skip
    x = [_label(s) for s in shown]
    colours = [STATUS_COLOURS[s.status] for s in shown]
    hover = "%{x}: %{y:.3f} (%{customdata})<extra></extra>"
    status = [s.status for s in shown]
    fig.add_bar(x=x, y=[s.psi for s in shown], name="PSI", marker_color=colours, customdata=status,
                hovertemplate=hover, row=1, col=1)  # fmt: skip
    fig.add_bar(x=x, y=[s.ks for s in shown], name="KS", marker_color=colours, customdata=status,
                hovertemplate=hover, row=2, col=1)  # fmt: skip
    cfg = result.config
    fig.add_hline(
        y=cfg.psi_warn,
        line=WARN_LINE,
        annotation_text=f"warn {cfg.psi_warn}",
        annotation_position="bottom right",
        row=1,
        col=1,
    )
    fig.add_hline(y=cfg.psi_alert, line=ALERT_LINE, annotation_text=f"alert {cfg.psi_alert}", row=1, col=1)
    fig.add_hline(y=cfg.ks_alert, line=ALERT_LINE, annotation_text=f"alert {cfg.ks_alert}", row=2, col=1)
    fig.update_yaxes(title_text="PSI", row=1, col=1)
    fig.update_yaxes(title_text="KS", row=2, col=1)
    fig.update_xaxes(tickangle=-45, row=2, col=1)
    fig.update_layout(template=TEMPLATE, height=620, margin={"t": 40, "b": 40}, showlegend=False)
    return fig


def class_shares_figure(result: DriftResult) -> go.Figure:
    """Shares of the predicted (argmax) classes: the training period's out-of-sample predictions vs the recent window."""
    shares = result.class_shares
    fig = go.Figure()
    for name, values, colour in (
        ("training period", shares.reference, "#9aa5b1"),
        ("recent window", shares.recent, "#2f6fb2"),
    ):
        fig.add_bar(x=list(shares.classes), y=list(values), name=name, marker_color=colour,
                    hovertemplate="%{x}: %{y:.1%}<extra>" + name + "</extra>")  # fmt: skip
    fig.update_layout(
        barmode="group", template=TEMPLATE, height=320, width=520, margin={"t": 40, "b": 40},
        title={"text": "predicted classes", "font": {"size": 13}},
        yaxis={"title": "share of decisions", "tickformat": ".0%"},
    )  # fmt: skip
    return fig


def worst_features(results: Sequence[DriftResult], k: int = WORST_OVER_TIME) -> list[tuple[str, str | None]]:
    """The ``k`` (feature, timeframe) pairs with the highest PSI over all ``results``."""
    worst: dict[tuple[str, str | None], float] = {}
    for r in results:
        for s in r.scores:
            if s.kind == "feature" and s.psi is not None:
                key = (s.target, s.timeframe)
                worst[key] = max(worst.get(key, s.psi), s.psi)
    return sorted(worst, key=lambda key: (-worst[key], key[0], key[1] or ""))[:k]


def psi_history_figure(results: Sequence[DriftResult]) -> go.Figure:
    """PSI of the worst features at each monitored window end (oldest first), thresholds of the latest drawn."""
    fig = go.Figure()
    x = [r.window_end.replace(tzinfo=None) if r.window_end else None for r in results]
    for target, tf in worst_features(results):
        y = [
            next((s.psi for s in r.scores if (s.target, s.timeframe) == (target, tf)), None) for r in results
        ]
        name = f"{target} ({tf})" if tf else target
        fig.add_scatter(x=x, y=y, name=name, mode="lines+markers")
    cfg = results[-1].config
    fig.add_hline(
        y=cfg.psi_warn,
        line=WARN_LINE,
        annotation_text=f"warn {cfg.psi_warn}",
        annotation_position="bottom right",
    )
    fig.add_hline(y=cfg.psi_alert, line=ALERT_LINE, annotation_text=f"alert {cfg.psi_alert}")
    fig.update_layout(
        template=TEMPLATE, height=360, margin={"t": 40, "b": 40}, hovermode="x unified",
        title={"text": f"PSI over time: the {WORST_OVER_TIME} worst features", "font": {"size": 13}},
        xaxis={"title": "end of the recent window (UTC)"}, yaxis={"title": "PSI"},
    )  # fmt: skip
    return fig
