"""The walk-forward section: every ``RUN/backtests/<id>/`` — stitched equity and drawdown, per-step
Sharpe, daily (rolling) IC, turnover and coverage. Time axes skip weekends."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from mlfactory.evaluation.metrics_schema import read_metrics
from mlfactory.evaluation.report.artifacts import RunArtifacts
from mlfactory.evaluation.report.figures import TEMPLATE, figure_html
from mlfactory.evaluation.report.html import Section, heading, key_value_table, paragraph, table, unavailable

WEEKEND = [{"bounds": ["sat", "mon"]}]


def backtest_section(run: RunArtifacts, next_id: Callable[[], str]) -> Section:
    title = "Walk-forward backtests (re-fit per step, stitched out of sample)"
    dirs = sorted(p for p in (run.root / "backtests").glob("*") if (p / "metrics.json").is_file())
    if not dirs:
        body = unavailable("walk-forward backtests (run `mlfactory backtest --walk-forward`)")
        return Section("backtests", title, body, False)
    body = "".join(_one_backtest(d, next_id) for d in dirs)
    return Section("backtests", title, body, True)


def _one_backtest(directory: Path, next_id: Callable[[], str]) -> str:
    m = read_metrics(directory / "metrics.json")
    wf: dict[str, Any] = getattr(m, "walk_forward", {})
    cov: dict[str, Any] = getattr(m, "coverage", {})
    strategy = m.strategy("oos")
    head = m.headline("oos")
    out = heading(3, directory.name)
    out += paragraph(
        f"{m.model}, h{m.horizon}: {wf.get('steps')} steps, train {wf.get('train_days')} trading days "
        f"({'expanding' if wf.get('expanding') else 'rolling'}), test {wf.get('test_days')}, re-fit every "
        f"{wf.get('refit_every')}; {cov.get('out_of_sample')} of {cov.get('decisions')} decisions out of sample."
    )
    out += key_value_table(
        [
            ("OOS log loss (prior)", f"{head['log_loss']} ({head['prior_log_loss']})"),
            ("Sharpe (annualised, net of costs)", head["sharpe"]),
            ("P&L (contract currency, net of costs)", head["total_pnl_currency"]),
            ("trades", head["trades"]),
            ("turnover per year", strategy.get("turnover_per_year")),
            ("deflated Sharpe", m.dsr),
        ]
    )
    equity = directory / "equity_oos.parquet"
    if equity.is_file():
        out += figure_html(_equity_figure(pl.read_parquet(equity)), next_id())
    steps = json.loads((directory / "steps.json").read_text()) if (directory / "steps.json").is_file() else []
    if steps:
        out += figure_html(_steps_figure(steps, directory / "daily_ic.parquet"), next_id())
        rows = [[s["step"], " … ".join(s["test_days"]), s["rows"]["train"], s["predicted"], s.get("log_loss"),
                 s.get("sharpe"), s.get("ic")] for s in steps]  # fmt: skip
        out += table(["step", "test days", "train rows", "predicted", "log loss", "Sharpe", "IC"], rows)
    return out


def _equity_figure(eq: pl.DataFrame) -> go.Figure:
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.65, 0.35], vertical_spacing=0.05)
    x = eq["timestamp"].dt.replace_time_zone(None).to_numpy()
    equity = eq["equity_currency"].to_numpy()
    fig.add_scatter(x=x, y=equity, name="stitched OOS equity", mode="lines", row=1, col=1)
    fig.add_scatter(
        x=x, y=equity - np.maximum.accumulate(equity), name="drawdown", mode="lines", row=2, col=1
    )
    if "buy_and_hold_equity" in eq.columns:
        fig.add_scatter(x=x, y=eq["buy_and_hold_equity"].to_numpy(), name="buy and hold", mode="lines",
                        line={"dash": "dash", "color": "#52606d"}, row=1, col=1)  # fmt: skip
    fig.update_xaxes(rangebreaks=WEEKEND)
    fig.update_yaxes(title_text="equity (contract currency)", row=1, col=1)
    fig.update_yaxes(title_text="drawdown", row=2, col=1)
    fig.update_layout(template=TEMPLATE, height=480, margin={"t": 30, "b": 40}, hovermode="x unified")
    return fig


def _steps_figure(steps: list[dict[str, Any]], daily_ic: Path) -> go.Figure:
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Sharpe per step", "daily IC (rolling 5 days)"))
    sharpe = [s.get("sharpe") if s.get("sharpe") is not None else float("nan") for s in steps]
    fig.add_bar(x=[s["step"] for s in steps], y=sharpe, name="step Sharpe", row=1, col=1)
    if daily_ic.is_file():
        ic = pl.read_parquet(daily_ic)
        if ic.height:
            rolling = ic["ic"].rolling_mean(5, min_samples=1).to_numpy()
            fig.add_scatter(
                x=ic["day"].to_numpy(), y=rolling, name="IC, 5-day mean", mode="lines", row=1, col=2
            )
            fig.update_xaxes(rangebreaks=WEEKEND, row=1, col=2)
    fig.update_layout(template=TEMPLATE, height=320, margin={"t": 40, "b": 40}, showlegend=False)
    return fig
