"""Trading metrics of a backtest, its buy-and-hold and always-flat baselines, and breakdowns.

Annualisation uses the instrument's session, not 252 × 390: periods per year =
``trading_days_per_year × bars per trading day`` with bars per day = ``trading_minutes_per_day /
bar_minutes`` (at least 1, so daily bars give one period per trading day). CME Globex (23 h, 252
days) on 5-minute bars gives 252 × 276 = 69,552 periods.

Definitions (``r`` = per-bar returns of the result, see ``backtest``):

- Sharpe = ``mean(r) / std(r, ddof=1) × sqrt(periods_per_year)``, with its standard error under
  non-normal returns (``sharpe_se``) and a seeded 95 % moving-block bootstrap interval
  (``sharpe_ci_low``/``sharpe_ci_high``, blocks of at least the holding horizon), both annualised
  the same way (see ``sharpe_uncertainty``); Sortino = ``mean(r) /
  sqrt(mean(min(r, 0)²)) × sqrt(periods_per_year)`` (target 0, downside over all bars).
- Annualised return = ``mean(r) × periods_per_year``; drawdowns are measured on the additive
  equity curve ``cumsum(r)`` starting from 0 (and on ``cumsum(pnl_currency)`` in currency); the
  drawdown duration is the longest run of bars spent below a previous peak. Calmar = annualised
  return / max drawdown.
- Trade statistics come from ``result.trades``; win rate = share of trades with P&L > 0, profit
  factor = gross profit / gross loss. Turnover counts contracts traded (sides, including the final
  liquidation) per year; exposure is the share of bars with a non-zero position.
- A ratio whose denominator is 0 is 0 when its numerator is 0 (nothing happened: the always-flat
  baseline, no trades) and ±inf otherwise (e.g. Sortino with no losing bar).
"""

from __future__ import annotations

import numpy as np

from mlfactory.data.instruments import Instrument
from mlfactory.errors import DataError
from mlfactory.evaluation.backtest import BacktestResult
from mlfactory.evaluation.sharpe_intervals import sharpe_uncertainty

NS_PER_MINUTE = 60 * 10**9
NS_PER_DAY = 1440 * NS_PER_MINUTE


def periods_per_year(instrument: Instrument, bar_minutes: float) -> float:
    """Bars per year from the instrument's session: trading days × max(1, session minutes / bar minutes)."""
    if not (np.isfinite(bar_minutes) and bar_minutes > 0):
        raise DataError(f"bar_minutes: must be a positive number of minutes, got {bar_minutes!r}")
    session = instrument.session
    bars_per_day = max(1.0, session.trading_minutes_per_day / float(bar_minutes))
    return float(session.trading_days_per_year * bars_per_day)


def infer_bar_minutes(bar_ts: np.ndarray) -> float:
    """The bar length in minutes: the median spacing of the close timestamps (session gaps are rare)."""
    ts = np.asarray(bar_ts, dtype=np.int64)
    if ts.shape[0] < 2:
        raise DataError("bar_ts: need at least 2 bars to infer the bar length; pass bar_minutes explicitly")
    return float(np.median(np.diff(ts))) / NS_PER_MINUTE


def safe_ratio(num: float, den: float) -> float:
    """``num / den``; 0 when both are 0, ±inf when only the denominator is 0."""
    if den > 0:
        return float(num / den)
    return 0.0 if num == 0 else float(np.copysign(np.inf, num))


def sharpe_ratio(returns: np.ndarray, periods_per_year: float) -> float:
    """Annualised Sharpe ratio of per-period returns (sample std, ddof=1; risk-free rate 0)."""
    r = np.asarray(returns, dtype=np.float64)
    return safe_ratio(r.mean(), r.std(ddof=1)) * np.sqrt(periods_per_year)


def sortino_ratio(returns: np.ndarray, periods_per_year: float) -> float:
    """Annualised Sortino ratio: mean over the root-mean-square of the negative part (target 0)."""
    r = np.asarray(returns, dtype=np.float64)
    downside = np.sqrt(np.mean(np.minimum(r, 0.0) ** 2))
    return safe_ratio(r.mean(), downside) * np.sqrt(periods_per_year)


def max_drawdown(equity: np.ndarray, bar_ts: np.ndarray | None = None) -> dict[str, float]:
    """Deepest fall of an additive equity curve below its running peak (starting from 0), and its duration.

    ``duration_bars`` is the longest run of bars below a previous peak; ``duration_days`` the calendar
    time of that run from its peak to its recovery (or the last bar), when ``bar_ts`` is given.
    """
    eq = np.concatenate(([0.0], np.asarray(equity, dtype=np.float64)))
    drawdown = np.maximum.accumulate(eq) - eq
    under = drawdown > 0
    out = {"max_drawdown": float(drawdown.max()), "duration_bars": 0.0, "duration_days": 0.0}
    if not under.any():
        return out
    edges = np.diff(np.concatenate(([0], under.view(np.int8), [0])))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)  # run = [start, stop)
    longest = int(np.argmax(stops - starts))
    start, stop = int(starts[longest]), int(stops[longest])
    out["duration_bars"] = float(stop - start)
    if bar_ts is not None:
        ts = np.concatenate(([bar_ts[0]], np.asarray(bar_ts, dtype=np.int64)))  # index 0 = the origin
        recovery = min(stop, ts.shape[0] - 1)
        out["duration_days"] = float(ts[recovery] - ts[start - 1]) / NS_PER_DAY
    return out


def trade_statistics(pnl_points: np.ndarray, point_value: float) -> dict[str, float | int]:
    """Count, win rate, profit factor and average trade (points and currency) of per-trade P&L."""
    pnl = np.asarray(pnl_points, dtype=np.float64)
    n = pnl.shape[0]
    wins, losses = pnl[pnl > 0].sum(), -pnl[pnl < 0].sum()
    avg = float(pnl.mean()) if n else 0.0
    return {
        "trade_count": n,
        "win_rate": float((pnl > 0).mean()) if n else 0.0,
        "profit_factor": safe_ratio(float(wins), float(losses)),
        "average_trade_points": avg,
        "average_trade_currency": avg * point_value,
    }


def trading_metrics(
    result: BacktestResult, periods_per_year: float, *, seed: int = 0
) -> dict[str, float | int]:
    """Every headline metric of one backtest (see the module docstring for the definitions);
    ``seed`` drives the Sharpe bootstrap."""
    if result.n_bars < 2:
        raise DataError(f"backtest result: {result.n_bars} bar(s); metrics need at least 2 bars")
    r = result.returns
    pos = result.position
    ann_return = float(r.mean()) * periods_per_year
    dd = max_drawdown(result.equity_returns, result.bar_ts)
    dd_ccy = max_drawdown(result.equity_currency)
    sides = np.abs(np.diff(np.concatenate(([0.0], pos, [0.0]))))  # includes the final liquidation
    out = {
        "n_bars": result.n_bars,
        "periods_per_year": float(periods_per_year),
        "total_pnl_points": float(result.pnl_points.sum()),
        "total_pnl_currency": float(result.pnl_currency.sum()),
        "total_costs_currency": float(result.costs_points.sum() * result.instrument.point_value),
        "total_return": float(r.sum()),
        "annualised_return": ann_return,
        "annualised_volatility": float(r.std(ddof=1)) * float(np.sqrt(periods_per_year)),
        "sharpe": sharpe_ratio(r, periods_per_year),
        **sharpe_uncertainty(r, periods_per_year, horizon=result.horizon, seed=seed),
        "sortino": sortino_ratio(r, periods_per_year),
        "max_drawdown": dd["max_drawdown"],
        "max_drawdown_currency": dd_ccy["max_drawdown"],
        "max_drawdown_duration_bars": dd["duration_bars"],
        "max_drawdown_duration_days": dd["duration_days"],
        "calmar": safe_ratio(ann_return, dd["max_drawdown"]),
        "contracts_traded": float(sides.sum()),
        "turnover_per_year": float(sides.sum()) / result.n_bars * periods_per_year,
        "exposure": float((pos != 0).mean()),
        "average_abs_position": float(np.abs(pos).mean()),
    }
    out.update(trade_statistics(result.trades.pnl_points, result.instrument.point_value))
    return out
