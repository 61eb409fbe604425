"""Model and ensemble sections: metric tables, equity, confusion, calibration, importance, OOF
correlation, session/regime breakdowns."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from mlfactory.evaluation.breakdowns import REGIME_NAMES, SESSION_NAMES, WARMUP_LABEL
from mlfactory.evaluation.classification_metrics import classification_metrics
from mlfactory.evaluation.feature_importance import IMPORTANCE_FILE
from mlfactory.evaluation.report.artifacts import EvaluatedModel, RunArtifacts, load_metrics
from mlfactory.evaluation.report.figures import (
    MIN_BIN_ROWS,
    PROBA_COLUMNS,
    confusion_figure,
    correlation_figure,
    equity_figure,
    figure_html,
    importance_figure,
    reliability_figure,
)
from mlfactory.evaluation.report.html import Section, heading, key_value_table, paragraph, table, unavailable
from mlfactory.evaluation.sharpe_intervals import format_sharpe

FigureId = Callable[[], str]
SPLITS = ("val", "test")
CLASSIFICATION_PREDICTORS = ("model", "majority", "prior")
CLASSIFICATION_COLUMNS = {
    "n": "rows",
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced acc.",
    "macro_f1": "macro F1",
    "log_loss": "log loss",
    "brier": "Brier",
}
TRADING_SERIES = {"strategy": "strategy", "buy_and_hold": "buy and hold", "always_flat": "always flat"}
SHARPE_UNITS = (
    "Sharpe: annualised, of per-bar returns on one contract's notional after costs, shown as "
    "estimate ± standard error (Lo/Mertens, non-normal returns) [95 % moving-block bootstrap interval]. "
    "P&L, costs and drawdowns in the contract's currency (points × point value), one contract."
)
TRADING_COLUMNS = {
    "sharpe": "Sharpe ± SE [95 % CI]",
    "sortino": "Sortino",
    "annualised_return": "ann. return",
    "total_pnl_currency": "P&L (ccy)",
    "total_costs_currency": "costs (ccy)",
    "max_drawdown_currency": "max DD (ccy)",
    "max_drawdown_duration_days": "DD days",
    "calmar": "Calmar",
    "trade_count": "trades",
    "win_rate": "win rate",
    "profit_factor": "profit factor",
    "average_trade_currency": "avg trade (ccy)",
    "exposure": "exposure",
    "turnover_per_year": "turnover / yr",
}
GROUP_COLUMNS = {
    "n_bars": "bars",
    "total_pnl_currency": "P&L (ccy)",
    "annualised_return": "ann. return",
    "sharpe": "Sharpe ± SE",
    "sortino": "Sortino",
    "exposure": "exposure",
    "trade_count": "trades",
    "win_rate": "win rate",
    "profit_factor": "profit factor",
}
GUARD_CANDIDATES = ("meta", "weighted_average", "best_base")


def metrics_section(run: RunArtifacts) -> Section:
    if not run.models:
        return Section("metrics", "Model and ensemble metrics", unavailable("models and ensembles"), False)
    body = "".join(_model_metrics(m) for m in run.models)
    return Section("metrics", "Model and ensemble metrics", body, available=True)


def _model_metrics(m: EvaluatedModel) -> str:
    out = heading(3, m.label)
    if m.metrics is None:
        return out + unavailable(f"metrics.json of {m.name}")
    facts = [
        f"{k.replace('_', ' ')} {m.metrics[k]}"
        for k in ("family", "horizon", "timeframe", "feature_set", "n_features", "meta_learner")
        if m.metrics.get(k) is not None
    ]
    if isinstance(m.metrics.get("bases"), list):
        facts.append("bases " + ", ".join(str(b) for b in m.metrics["bases"]))
    if facts:
        out += paragraph(" · ".join(facts), "meta")
    out += _evidence(m)
    out += _classification_table(m) + _per_class_table(m) + _trading_table(m) + _overfitting_table(m)
    return out


def _evidence(m: EvaluatedModel) -> str:
    """Coverage of the test clock, trading days, and the thin-evidence warnings stored with the metrics."""
    cov = m.section("trading", "test", "coverage")
    out = ""
    if isinstance(cov, dict) and cov.get("rows_on_clock"):
        out += paragraph(
            f"test coverage: {cov['rows_used']:,} of {cov['rows_on_clock']:,} decisions on the clock "
            f"({cov['share']:.0%}) · {m.section('trading', 'test', 'trading_days')} trading days",
            "meta",
        )
    warnings = m.section("trading", "test", "warnings")
    if isinstance(warnings, list) and warnings:
        out += paragraph("⚠ " + "; ".join(str(w) for w in warnings), "warn")
    return out


def _classification_table(m: EvaluatedModel) -> str:
    rows, hl = [], []
    for split in SPLITS:
        for who in CLASSIFICATION_PREDICTORS:
            metrics = m.section("classification", split, who)
            if isinstance(metrics, dict):
                if who == "model":
                    hl.append(len(rows))
                rows.append([split, who, *[metrics.get(k) for k in CLASSIFICATION_COLUMNS]])
    if not rows:
        return unavailable(f"classification metrics of {m.name}")
    return table(["split", "predictor", *CLASSIFICATION_COLUMNS.values()], rows, highlight=hl)


def _per_class_table(m: EvaluatedModel) -> str:
    per_class = m.section("classification", "test", "model", "per_class")
    if not isinstance(per_class, dict) or not per_class:
        return ""
    rows = [[name, c.get("precision"), c.get("recall"), c.get("support")] for name, c in per_class.items()]
    return paragraph("Per class, test split", "meta") + table(
        ["class", "precision", "recall", "support"], rows
    )


def _trading_table(m: EvaluatedModel) -> str:
    rows, hl = [], []
    for split in SPLITS:
        for key, name in TRADING_SERIES.items():
            metrics = m.section("trading", split, key)
            if isinstance(metrics, dict):
                if key == "strategy":
                    hl.append(len(rows))
                rows.append([split, name, *[_trading_cell(metrics, k) for k in TRADING_COLUMNS]])
    if not rows:
        return unavailable(f"trading metrics of {m.name}")
    note = paragraph(SHARPE_UNITS, "meta")
    return note + table(["split", "series", *TRADING_COLUMNS.values()], rows, highlight=hl)


def _trading_cell(metrics: dict[str, Any], key: str) -> Any:
    if key == "sharpe" and "sharpe_se" in metrics:
        return format_sharpe(metrics)
    return metrics.get(key)


def _overfitting_table(m: EvaluatedModel) -> str:
    over = m.section("overfitting")
    if not isinstance(over, dict) or not over:
        return unavailable(f"overfitting statistics (deflated Sharpe, PBO) of {m.name}")
    items: list[tuple[str, Any]] = []
    for stat, value in over.items():
        if isinstance(value, dict):
            items += [(f"{stat}.{k}", v) for k, v in value.items() if _is_scalar(v)]
        elif _is_scalar(value):
            items.append((stat, value))
    return paragraph("Overfitting statistics", "meta") + key_value_table(items)


def _group_order(groups: dict[str, Any]) -> list[str]:
    """Sessions in clock order, regimes low → high then warm-up, anything else after, alphabetically."""
    known = {g: i for i, g in enumerate((*SESSION_NAMES, *REGIME_NAMES, WARMUP_LABEL))}
    return sorted(groups, key=lambda g: (known.get(g, len(known)), g))


def _group_cell(node: Any, key: str) -> Any:
    if key == "sharpe" and isinstance(node, dict) and "sharpe_se" in node:
        return format_sharpe(node)
    return _get(node, key)


def _get(node: Any, key: str) -> Any:
    return node.get(key) if isinstance(node, dict) else None


def _is_scalar(v: Any) -> bool:
    return v is None or isinstance(v, str | int | float | bool)


def equity_section(run: RunArtifacts, next_id: FigureId) -> Section:
    title = "Equity and drawdown (test split)"
    if not any(m.equity is not None and m.equity.height for m in run.models):
        return Section("equity", title, unavailable("equity curves (equity_test.parquet)"), False)
    note = paragraph(
        "Cumulative P&L in currency of one contract after costs; buy and hold and always flat on the same "
        "bars. Long series are thinned for display (the deepest drawdown point is always kept).",
        "meta",
    )
    return Section("equity", title, note + figure_html(equity_figure(run.models), next_id()), True)


def confusion_matrix_of(m: EvaluatedModel) -> list[list[float]] | None:
    """From predictions_test.parquet when present (argmax, as the metrics), else from metrics.json."""
    if m.predictions is not None and m.predictions.height:
        proba = m.predictions.select(PROBA_COLUMNS).to_numpy()
        return classification_metrics(m.predictions["label"].to_numpy(), proba)["confusion_matrix"]
    matrix = m.section("classification", "test", "model", "confusion_matrix")
    return matrix if isinstance(matrix, list) else None


def confusion_section(run: RunArtifacts, next_id: FigureId) -> Section:
    title = "Confusion matrices (test split)"
    figures = []
    for m in run.models:
        matrix = confusion_matrix_of(m)
        if matrix is not None:
            figures.append(figure_html(confusion_figure(matrix, m.label), next_id(), toolbar=False))
    if not figures:
        return Section("confusion", title, unavailable("confusion matrices"), False)
    note = paragraph(
        "Cell text: counts; colour: share of the true class (row), so the diagonal is recall.", "meta"
    )
    return Section("confusion", title, note + _grid(figures), True)


def calibration_section(run: RunArtifacts, next_id: FigureId) -> Section:
    title = "Calibration (test split)"
    if not any(m.predictions is not None and m.predictions.height for m in run.models):
        return Section(
            "calibration", title, unavailable("test predictions (predictions_test.parquet)"), False
        )
    note = paragraph(
        f"Reliability curves per class (one-vs-rest), 10 uniform probability bins; bins with fewer than "
        f"{MIN_BIN_ROWS} rows are not drawn.",
        "meta",
    )
    return Section("calibration", title, note + figure_html(reliability_figure(run.models), next_id()), True)


def importance_section(run: RunArtifacts, next_id: FigureId) -> Section:
    title = "Feature importance"
    figures = []
    for m in run.models:
        for values, errors, caption in _importance_panels(m):
            fig = importance_figure(values, f"{m.label}: {caption}", errors=errors)
            figures.append(figure_html(fig, next_id(), toolbar=False))
    if not figures:
        return Section("importance", title, unavailable("feature importance"), False)
    note = paragraph(
        "MDI: the tree model's own impurity/gain share (in-sample). MDA: increase in validation log loss "
        "when the feature (or a correlation cluster of features, jointly) is shuffled; bars ± standard error.",
        "meta",
    )
    return Section("importance", title, note + _grid(figures), True)


def _importance_panels(m: EvaluatedModel) -> list[tuple[dict[str, float], dict[str, float] | None, str]]:
    """(values, errors, caption) per chart: importance.json when the model has one, else metrics.json's."""
    stored = load_metrics(m.path / IMPORTANCE_FILE)
    if stored is None:
        imp = m.section("feature_importance")
        return [(imp, None, "top 20")] if isinstance(imp, dict) and imp else []
    panels = []
    for key, caption in (
        ("mda", "MDA (validation), top 20"),
        ("clustered_mda", "clustered MDA (validation)"),
    ):
        node = stored.get(key)
        if isinstance(node, dict) and node:
            panels.append(
                ({k: v["mean"] for k, v in node.items()}, {k: v["se"] for k, v in node.items()}, caption)
            )
    for key, caption in (("mdi", "MDI (trees), top 20"), ("clustered_mdi", "clustered MDI (trees)")):
        if isinstance(stored.get(key), dict) and stored[key]:
            panels.append((stored[key], None, caption))
    return panels


def ensembles_section(run: RunArtifacts, next_id: FigureId) -> Section:
    title = "Ensembles: bases, guard and OOF correlation"
    ensembles = [m for m in run.models if m.kind == "ensemble"]
    if not ensembles:
        return Section("ensembles", title, unavailable("ensembles"), False)
    body = ""
    for e in ensembles:
        body += heading(3, e.label)
        if e.metrics is None:
            body += unavailable(f"metrics.json of {e.name}")
            continue
        bases = e.section("bases")
        body += key_value_table(
            [
                ("bases", ", ".join(map(str, bases)) if isinstance(bases, list) else None),
                ("meta-learner", e.section("meta_learner")),
            ]
        )
        body += _guard_table(e)
        corr = e.section("oof_correlation")
        if (
            isinstance(corr, dict)
            and isinstance(corr.get("names"), list)
            and isinstance(corr.get("matrix"), list)
        ):
            fig = correlation_figure(
                corr["names"], corr["matrix"], f"{e.name}: OOF correlation between bases"
            )
            body += figure_html(fig, next_id(), toolbar=False)
        else:
            body += unavailable(f"OOF correlation of {e.name}")
    return Section("ensembles", title, body, True)


def _guard_table(e: EvaluatedModel) -> str:
    guard = e.section("guard")
    if not isinstance(guard, dict):
        return unavailable(f"guard (meta vs weighted average vs best base) of {e.name}")
    kept = guard.get("kept")
    rows = [[c.replace("_", " "), guard.get(c), c == kept] for c in GUARD_CANDIDATES]
    score = f"score ({guard['metric']})" if isinstance(guard.get("metric"), str) else "score"
    extra = [
        (k, v) for k, v in guard.items() if k not in (*GUARD_CANDIDATES, "kept", "metric") and _is_scalar(v)
    ]
    out = paragraph("Guard: validation score of each candidate; the kept one is served.", "meta")
    out += table(["candidate", score, "kept"], rows, highlight=[i for i, r in enumerate(rows) if r[2]])
    return out + (key_value_table(extra) if extra else "")


def breakdown_section(run: RunArtifacts) -> Section:
    title = "Session and regime breakdown (test split)"
    body = ""
    for m in run.models:
        parts = ""
        for key, name in (("by_session", "by session (UTC hours)"), ("by_regime", "by volatility regime")):
            groups = m.section("trading", "test", key)
            if isinstance(groups, dict) and groups:
                rows = [
                    [g, *[_group_cell(groups[g], k) for k in GROUP_COLUMNS]] for g in _group_order(groups)
                ]
                parts += table([name, *GROUP_COLUMNS.values()], rows)
        if parts:
            body += heading(3, m.label) + parts
    if not body:
        return Section("breakdown", title, unavailable("session and regime breakdowns"), False)
    return Section("breakdown", title, body, True)


def _grid(items: Sequence[str]) -> str:
    return '<div class="grid">' + "".join(f"<div>{x}</div>" for x in items) + "</div>"
