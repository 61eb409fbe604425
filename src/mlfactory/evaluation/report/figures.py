"""Plotly figures of the report and the small computations behind them (reliability bins, decimation).

Figures are rendered without plotly.js (the page embeds it once) and with deterministic div ids,
so the same run always gives the same report bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from mlfactory.errors import DataError
from mlfactory.evaluation.report.artifacts import EvaluatedModel
from mlfactory.models.base import CLASS_NAMES

PROBA_COLUMNS = ("p_short", "p_neutral", "p_long")
MAX_POINTS_PER_TRACE = 4000
MIN_BIN_ROWS = 20  # reliability bins with fewer rows are too noisy to draw
BREAK_GAP_FACTOR = 3.0  # a pause longer than this many typical bar spacings is a session break
MAX_RANGEBREAKS = 400
_DASHES = ("solid", "dash", "dashdot", "longdash", "longdashdot")
TEMPLATE = "plotly_white"
_PLOT_CONFIG = {"displaylogo": False, "responsive": True}


def figure_html(fig: go.Figure, div_id: str, *, toolbar: bool = True) -> str:
    """A figure as a ``<div>`` + script that expects plotly.js to be loaded already. Small static
    figures pass ``toolbar=False`` (plotly's mode bar would cover their title)."""
    config = _PLOT_CONFIG | {"displayModeBar": toolbar}
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config=config)


def reliability_curve(
    is_class: np.ndarray, prob: np.ndarray, n_bins: int = 10
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean predicted probability, observed frequency and count per non-empty uniform bin of [0, 1].

    Bins as ``sklearn.calibration.calibration_curve(strategy="uniform")``: edges ``linspace(0, 1,
    n_bins + 1)``, a probability equal to an inner edge falls in the bin to its left.
    """
    y = np.asarray(is_class, dtype=np.float64)
    p = np.asarray(prob, dtype=np.float64)
    if y.shape != p.shape or y.ndim != 1:
        raise DataError(
            f"reliability_curve: outcomes {y.shape} and probabilities {p.shape} must be equal 1-D"
        )
    if n_bins < 1:
        raise DataError(f"n_bins: need at least one bin, got {n_bins}")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bin_id = np.searchsorted(edges[1:-1], p)
    count = np.bincount(bin_id, minlength=n_bins)
    sum_p = np.bincount(bin_id, weights=p, minlength=n_bins)
    sum_y = np.bincount(bin_id, weights=y, minlength=n_bins)
    keep = count > 0
    return sum_p[keep] / count[keep], sum_y[keep] / count[keep], count[keep]


def decimation_index(n: int, max_points: int, keep: Sequence[int] = ()) -> np.ndarray:
    """Evenly strided row indices (first and last included) plus ``keep``, at most ~``max_points`` rows."""
    if n <= max_points:
        return np.arange(n)
    stride = int(np.ceil(n / max_points))
    idx = np.concatenate((np.arange(0, n, stride), [n - 1], np.asarray(keep, dtype=np.int64)))
    return np.unique(idx)


def _plot_time(ts: pl.Series) -> np.ndarray:
    """UTC timestamps as second-resolution numpy datetimes (compact ISO strings in the figure JSON)."""
    return ts.dt.replace_time_zone(None).to_numpy().astype("datetime64[s]")


def session_rangebreaks(bar_ts_ns: np.ndarray) -> list[dict[str, list[str]]]:
    """Plotly x-axis ``rangebreaks`` hiding the pauses in trading (weekends, daily session breaks).

    A pause is a step between consecutive bar timestamps longer than ``BREAK_GAP_FACTOR`` × the
    median step; it is hidden from just after the last bar before it to the first bar after it (the
    longest ``MAX_RANGEBREAKS`` of them).
    """
    ts = np.unique(np.asarray(bar_ts_ns, dtype=np.int64))
    if ts.shape[0] < 3:
        return []
    step = np.diff(ts)
    gaps = np.flatnonzero(step > BREAK_GAP_FACTOR * np.median(step))
    gaps = np.sort(gaps[np.argsort(-step[gaps], kind="stable")[:MAX_RANGEBREAKS]])
    second = 10**9
    lo = (ts[gaps] // second + 1).astype("datetime64[s]")
    hi = (ts[gaps + 1] // second).astype("datetime64[s]")
    return [{"bounds": [str(a), str(b)]} for a, b in zip(lo, hi, strict=True)]


def drawdown_from_equity(equity: np.ndarray) -> np.ndarray:
    """Depth below the running peak (peak starts at 0), as a non-positive series."""
    eq = np.asarray(equity, dtype=np.float64)
    return eq - np.maximum.accumulate(np.maximum(eq, 0.0))


def label_distribution_figure(counts: Mapping[int, np.ndarray]) -> go.Figure:
    """Stacked shares of short / neutral / long labels, one bar per horizon."""
    horizons = [f"h{h}" for h in counts]
    fig = go.Figure()
    colors = ("#d64545", "#9aa5b1", "#2f8a4f")
    for i, name in enumerate(CLASS_NAMES):
        shares = [c[i] / max(c.sum(), 1) for c in counts.values()]
        fig.add_bar(
            x=horizons,
            y=shares,
            name=name,
            marker_color=colors[i],
            customdata=[int(c[i]) for c in counts.values()],
            hovertemplate="%{x} " + name + ": %{y:.1%} (%{customdata:,} labels)<extra></extra>",
        )
    fig.update_layout(
        barmode="stack",
        template=TEMPLATE,
        height=320,
        width=260 + 120 * len(horizons),
        yaxis={"title": "share of labels", "tickformat": ".0%"},
        xaxis={"title": "horizon (bars)"},
        margin={"t": 30, "b": 40},
    )
    return fig


def equity_figure(models: Sequence[EvaluatedModel]) -> go.Figure:
    """Test-split equity (currency) of every model with its buy-and-hold and always-flat baselines,
    and the drawdowns below. Buy-and-hold is drawn once per distinct test period."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.65, 0.35], vertical_spacing=0.05)
    periods_drawn: set[tuple[int, int, int]] = set()
    flat_drawn = False
    for i, m in enumerate(models):
        eq = m.equity
        if eq is None or eq.height == 0:
            continue
        equity = eq["equity_currency"].to_numpy().astype(np.float64)
        if "drawdown_currency" in eq.columns:
            drawdown = -np.abs(eq["drawdown_currency"].to_numpy().astype(np.float64))
        else:
            drawdown = drawdown_from_equity(equity)
        idx = decimation_index(eq.height, MAX_POINTS_PER_TRACE, keep=[int(np.argmin(drawdown))])
        x = _plot_time(eq["timestamp"])[idx]
        line = {"color": _color(i), "dash": _DASHES[i % len(_DASHES)], "width": 2.0 if i == 0 else 1.5}
        fig.add_scatter(
            x=x, y=equity[idx], name=m.label, legendgroup=m.name, mode="lines", line=line, row=1, col=1
        )
        fig.add_scatter(
            x=x, y=drawdown[idx], name=m.label, legendgroup=m.name, mode="lines", line=line, showlegend=False,
            row=2, col=1,
        )  # fmt: skip
        ts = eq["timestamp"].dt.epoch("ns")
        period = (int(ts[0]), int(ts[-1]), eq.height)
        if "buy_and_hold_equity" in eq.columns and period not in periods_drawn:
            bh = eq["buy_and_hold_equity"].to_numpy().astype(np.float64)
            name = "buy and hold" if not periods_drawn else f"buy and hold ({m.name} period)"
            periods_drawn.add(period)
            line = {"color": "#52606d", "dash": "dash"}
            fig.add_scatter(
                x=x, y=bh[idx], name=name, legendgroup=name, mode="lines", line=line, row=1, col=1
            )
            fig.add_scatter(
                x=x, y=drawdown_from_equity(bh)[idx], name=name, legendgroup=name, mode="lines",
                line=line, showlegend=False, row=2, col=1,
            )  # fmt: skip
        if not flat_drawn:
            flat_drawn = True
            fig.add_scatter(
                x=x[[0, -1]], y=[0.0, 0.0], name="always flat", mode="lines",
                line={"color": "#9aa5b1", "dash": "dot"}, row=1, col=1,
            )  # fmt: skip
    fig.update_layout(template=TEMPLATE, height=560, margin={"t": 30, "b": 40}, hovermode="x unified")
    fig.update_yaxes(title_text="equity (contract currency, 1 contract, after costs)", row=1, col=1)
    fig.update_yaxes(title_text="drawdown (contract currency)", row=2, col=1)
    all_ts = [m.equity["timestamp"].dt.epoch("ns").to_numpy() for m in models if m.equity is not None]
    breaks = session_rangebreaks(np.concatenate(all_ts)) if all_ts else []
    fig.update_xaxes(rangebreaks=breaks)
    fig.update_xaxes(title_text="bar close (UTC; weekends and session breaks hidden)", row=2, col=1)
    return fig


def confusion_figure(matrix: Sequence[Sequence[float]], title: str) -> go.Figure:
    """Counts as text, colour = share of the true class (row-normalised, i.e. recall on the diagonal)."""
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape != (3, 3):
        raise DataError(f"confusion matrix of {title}: expected 3 × 3, got shape {m.shape}")
    rows = m.sum(axis=1, keepdims=True)
    share = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
    counts = [[f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}" for v in row] for row in m]
    fig = go.Figure(
        go.Heatmap(
            z=share,
            x=list(CLASS_NAMES),
            y=list(CLASS_NAMES),
            text=counts,
            texttemplate="%{text}",
            zmin=0.0,
            zmax=1.0,
            colorscale="Blues",
            showscale=False,
            hovertemplate="true %{y}, predicted %{x}: %{text} (%{z:.1%} of true)<extra></extra>",
        )
    )
    fig.update_layout(
        title={"text": title, "font": {"size": 13}},
        template=TEMPLATE,
        width=330,
        height=310,
        margin={"t": 40, "b": 50, "l": 70, "r": 10},
        xaxis={"title": "predicted"},
        yaxis={"title": "true", "autorange": "reversed"},
    )
    return fig


def reliability_figure(models: Sequence[EvaluatedModel], n_bins: int = 10) -> go.Figure:
    """One panel per class: observed frequency against mean predicted probability, every model overlaid."""
    fig = make_subplots(rows=1, cols=3, subplot_titles=[f"class {c}" for c in CLASS_NAMES], shared_yaxes=True)
    for col, (value, column) in enumerate(zip((-1, 0, 1), PROBA_COLUMNS, strict=True), start=1):
        fig.add_scatter(
            x=[0, 1], y=[0, 1], mode="lines", line={"color": "#9aa5b1", "dash": "dot"},
            name="perfectly calibrated", legendgroup="diag", showlegend=col == 1, row=1, col=col,
        )  # fmt: skip
        for i, m in enumerate(models):
            pred = m.predictions
            if pred is None or pred.height == 0:
                continue
            mean_p, freq, count = reliability_curve(
                pred["label"].to_numpy() == value, pred[column].to_numpy(), n_bins
            )
            enough = count >= MIN_BIN_ROWS
            mean_p, freq, count = mean_p[enough], freq[enough], count[enough]
            fig.add_scatter(
                x=mean_p, y=freq, customdata=count, mode="lines+markers", name=m.label, legendgroup=m.name,
                showlegend=col == 1, marker={"color": _color(i)}, line={"color": _color(i), "dash": _DASHES[i % len(_DASHES)]},
                hovertemplate="predicted %{x:.2f}, observed %{y:.2f} (%{customdata:,} rows)<extra></extra>",
                row=1, col=col,
            )  # fmt: skip
    fig.update_layout(template=TEMPLATE, height=380, margin={"t": 40, "b": 40})
    fig.update_xaxes(range=[0, 1], title_text="mean predicted probability")
    fig.update_yaxes(range=[0, 1], title_text="observed frequency", col=1)
    return fig


def importance_figure(
    importance: Mapping[str, float], title: str, top_n: int = 20, *, errors: Mapping[str, float] | None = None
) -> go.Figure:
    """The ``top_n`` features by absolute importance, largest on top (non-finite values dropped);
    ``errors`` (standard errors by name) draw as error bars."""
    names = np.array(list(importance), dtype=object)
    values = np.array([float(v) for v in importance.values()], dtype=np.float64)
    finite = np.isfinite(values)
    names, values = names[finite], values[finite]
    order = np.argsort(-np.abs(values), kind="stable")[:top_n][::-1]
    bar = go.Bar(x=values[order], y=names[order].tolist(), orientation="h", marker_color="#2f6fb2")
    if errors is not None:
        bar.error_x = {"type": "data", "array": [float(errors.get(n, 0.0)) for n in names[order]]}
    fig = go.Figure(bar)
    fig.update_layout(
        title={"text": title, "font": {"size": 13}},
        template=TEMPLATE,
        height=max(220, 22 * len(order) + 80),
        margin={"t": 40, "b": 40, "l": 10},
        xaxis={"title": "importance"},
        yaxis={"automargin": True},
    )
    return fig


def path_sharpe_figure(sharpes: np.ndarray, title: str) -> go.Figure:
    """Histogram of CPCV path Sharpes with the median and the 5 % / 95 % quantiles marked."""
    s = np.asarray(sharpes, dtype=np.float64)
    fig = go.Figure(
        go.Histogram(x=s, nbinsx=max(5, min(40, s.size // 2)), marker_color="#2f6fb2", name="paths")
    )
    for q, dash in ((0.05, "dot"), (0.5, "solid"), (0.95, "dot")):
        fig.add_vline(
            x=float(np.quantile(s, q)), line={"color": "#d64545", "dash": dash}, annotation_text=f"q{q:.0%}"
        )
    fig.update_layout(
        title={"text": title, "font": {"size": 13}},
        template=TEMPLATE,
        width=520,
        height=320,
        margin={"t": 40, "b": 40},
        xaxis={"title": "Sharpe per decision, net of costs"},
        yaxis={"title": "paths"},
        showlegend=False,
    )
    return fig


def correlation_figure(names: Sequence[str], matrix: Sequence[Sequence[float]], title: str) -> go.Figure:
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape != (len(names), len(names)):
        raise DataError(f"oof_correlation of {title}: matrix {m.shape} does not match {len(names)} names")
    text = [["n/a" if not np.isfinite(v) else f"{v:.2f}" for v in row] for row in m]
    fig = go.Figure(
        go.Heatmap(
            z=np.where(np.isfinite(m), m, None),
            x=list(names),
            y=list(names),
            text=text,
            texttemplate="%{text}",
            zmin=-1.0,
            zmax=1.0,
            colorscale="RdBu",
            reversescale=True,
            hovertemplate="%{y} vs %{x}: %{text}<extra></extra>",
        )
    )
    side = 160 + 60 * len(names)
    fig.update_layout(
        title={"text": title, "font": {"size": 13}},
        template=TEMPLATE,
        width=side + 120,
        height=side,
        margin={"t": 40, "b": 40},
        yaxis={"autorange": "reversed"},
    )
    return fig


def _color(i: int) -> str:
    palette = ("#2f6fb2", "#d64545", "#2f8a4f", "#c27c0e", "#7b4fb2", "#0f8a8a", "#b2497b", "#52606d")
    return palette[i % len(palette)]
