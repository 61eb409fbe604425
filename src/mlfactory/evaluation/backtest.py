"""Vectorised backtest of per-decision target positions on bars, with commission and slippage.

Conventions (array level; timestamps are int64 ns UTC bar-close times):

- **Timing.** A decision taken at the close of bar ``d`` (its timestamp must be one of ``bar_ts``)
  fills at the open of bar ``d + 1``. The position held *during* bar ``k`` (open → close) is
  ``position[k]``; it depends only on decisions with ``d < k``. A decision on the last bar never fills.
- **Holding.** ``holding="horizon"``: a non-zero signal is held for ``horizon`` bars (bars
  ``d+1 .. d+horizon``, exit at the open of bar ``d+horizon+1``), then flat. A later non-zero signal
  replaces the open position (new side/size) and restarts the clock; a flat (0) signal does not
  cut an open position short — "neutral" means "no new trade". ``holding="until_next_signal"``:
  every decision, including a flat one, sets the position from its fill until the next decision's
  fill; the horizon is not used.
- **Mark to market.** Bar ``k`` earns ``position[k-1] × (open[k] - close[k-1])`` (the gap, held
  at the old position until the fill) plus ``position[k] × (close[k] - open[k])``, in points per
  contract. Summed over a trade this is exactly ``size × (exit fill - entry fill)``.
- **Costs.** Per side, per contract, in points: ``commission_per_side / point_value +
  slippage_ticks × tick_size``. Charged at every bar where the position changes, proportional to
  ``|Δposition|``: a flip from +1 to -1 is 2 sides, a resize from 1 to 0.5 is half a side. A
  position still open after the last bar is closed at the last close and pays its exit side.
- **Units.** ``pnl_points`` (price points per contract), ``pnl_currency`` (× point value) and
  ``returns``: by default relative to the notional of one contract at the previous close
  (``pnl_points[k] / close[k-1]``; ``open[0]`` for the first bar), i.e. the per-bar return of a
  fully collateralised one-contract position. With ``capital`` set, ``returns = pnl_currency /
  capital`` (a fixed account, needed when prices can be zero or negative). The equity curves are
  cumulative sums (a fixed one-contract position is not reinvested).
- **Contract rolls.** With ``bar_segment`` (the bars' ``segment`` marker, see
  ``mlfactory.data.segments``) every segment is backtested as if it were its own file: no position
  is held across a roll (one still open at a segment's last bar is closed at that bar's close and
  pays its exit side; a decision on a segment's last bar never fills), and no bar return spans the
  roll (the first bar of a segment is referenced to its own open).
- **Trades.** A trade is a maximal run of bars with a non-zero position of the same sign (a flip
  closes one trade and opens another; a resize stays inside the trade). Trade P&L and costs are the
  bar P&L allocated to it (at a flip the closing side goes to the old trade and the opening side to
  the new one), so trades sum exactly to the bar P&L.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

from mlfactory.data.instruments import Instrument
from mlfactory.errors import ConfigError, DataError

Holding = Literal["horizon", "until_next_signal"]


@dataclass(frozen=True)
class Trades:
    """One row per trade (struct of arrays). Fill timestamps are the close timestamps of the fill bars."""

    entry_index: np.ndarray  # bar index whose open filled the entry
    exit_index: np.ndarray  # bar index whose open filled the exit (last bar when closed at the end)
    entry_ts: np.ndarray
    exit_ts: np.ndarray
    side: np.ndarray  # +1 long, -1 short
    size: np.ndarray  # |position| at entry (contracts)
    entry_price: np.ndarray
    exit_price: np.ndarray
    closed_at_end: np.ndarray  # True when the exit is the end-of-data liquidation at the last close
    pnl_points: np.ndarray  # net of costs, per contract-size held
    pnl_currency: np.ndarray
    costs_points: np.ndarray

    def __len__(self) -> int:
        return int(self.entry_index.shape[0])

    def to_polars(self) -> pl.DataFrame:
        """The trades as a frame with tz-aware UTC entry/exit times."""
        cols = {name: getattr(self, name) for name in self.__dataclass_fields__}
        frame = pl.DataFrame(cols)
        return frame.with_columns(
            pl.col("entry_ts", "exit_ts").cast(pl.Datetime("ns")).dt.replace_time_zone("UTC")
        )


@dataclass(frozen=True)
class BacktestResult:
    """Per-bar series of a backtest (aligned with ``bar_ts``) plus its trades."""

    bar_ts: np.ndarray
    bar_open: np.ndarray
    bar_close: np.ndarray
    position: np.ndarray
    pnl_points: np.ndarray
    pnl_currency: np.ndarray
    costs_points: np.ndarray
    returns: np.ndarray
    equity_currency: np.ndarray  # cumulative pnl_currency
    equity_returns: np.ndarray  # cumulative returns (additive)
    trades: Trades
    instrument: Instrument
    holding: Holding
    horizon: int | None
    capital: float | None

    @property
    def n_bars(self) -> int:
        return int(self.bar_ts.shape[0])


def cost_per_side_points(instrument: Instrument) -> float:
    """Commission plus slippage for one side of one contract, in price points."""
    return (
        instrument.commission_per_side / instrument.point_value
        + instrument.slippage_ticks * instrument.tick_size
    )


def backtest(
    decision_ts: np.ndarray,
    signal_positions: np.ndarray,
    bar_ts: np.ndarray,
    bar_open: np.ndarray,
    bar_close: np.ndarray,
    instrument: Instrument,
    *,
    holding: Holding,
    horizon: int | None = None,
    capital: float | None = None,
    bar_segment: np.ndarray | None = None,
) -> BacktestResult:
    """Backtest target positions decided at ``decision_ts`` on the bars (see the module docstring)."""
    ts, open_, close = _check_bars(bar_ts, bar_open, bar_close)
    dts, sig = _check_decisions(decision_ts, signal_positions)
    n = ts.shape[0]
    d_idx = np.searchsorted(ts, dts)
    off_clock = (d_idx >= n) | (ts[np.minimum(d_idx, n - 1)] != dts)
    if off_clock.any():
        i = int(np.flatnonzero(off_clock)[0])
        raise DataError(
            f"decision_ts[{i}] = {int(dts[i])} is not the close timestamp of any bar in bar_ts; "
            "decisions must sit on the bar clock (fills happen at the next bar's open)"
        )
    runs = _segment_runs(bar_segment, n)
    parts = []
    for lo, hi in runs:
        pick = (d_idx >= lo) & (d_idx < hi)
        position = target_positions(
            d_idx[pick] + 1 - lo, sig[pick], hi - lo, holding=holding, horizon=horizon
        )
        parts.append(
            _mark_to_market(
                ts[lo:hi], open_[lo:hi], close[lo:hi], position, instrument, holding, horizon, capital
            )
        )
    return parts[0] if len(parts) == 1 else _concat_results(parts, [lo for lo, _ in runs])


def _segment_runs(bar_segment: np.ndarray | None, n: int) -> list[tuple[int, int]]:
    """``[(first, end)]`` bar index ranges of the unbroken runs between contract rolls."""
    if bar_segment is None:
        return [(0, n)]
    seg = np.asarray(bar_segment)
    if seg.shape != (n,):
        raise DataError(f"bar_segment: length {seg.shape} does not match bar_ts ({n},)")
    cuts = np.flatnonzero(seg[1:] != seg[:-1]) + 1
    edges = [0, *cuts.tolist(), n]
    return list(itertools.pairwise(edges))


def _concat_results(parts: list[BacktestResult], offsets: list[int]) -> BacktestResult:
    """One result from per-segment results (bars in order); trade indices shifted to the whole bars."""

    def cat(name: str, src: list) -> np.ndarray:
        return np.concatenate([getattr(p, name) for p in src])

    tr = [p.trades for p in parts]
    fields = {name: cat(name, tr) for name in Trades.__dataclass_fields__}
    for name in ("entry_index", "exit_index"):
        fields[name] = np.concatenate([getattr(t, name) + off for t, off in zip(tr, offsets, strict=True)])
    first = parts[0]
    pnl_ccy, returns = cat("pnl_currency", parts), cat("returns", parts)
    return BacktestResult(
        bar_ts=cat("bar_ts", parts),
        bar_open=cat("bar_open", parts),
        bar_close=cat("bar_close", parts),
        position=cat("position", parts),
        pnl_points=cat("pnl_points", parts),
        pnl_currency=pnl_ccy,
        costs_points=cat("costs_points", parts),
        returns=returns,
        equity_currency=np.cumsum(pnl_ccy),
        equity_returns=np.cumsum(returns),
        trades=Trades(**fields),
        instrument=first.instrument,
        holding=first.holding,
        horizon=first.horizon,
        capital=first.capital,
    )


def target_positions(
    entry_index: np.ndarray,
    signal: np.ndarray,
    n_bars: int,
    *,
    holding: Holding,
    horizon: int | None,
) -> np.ndarray:
    """Per-bar position from strictly increasing entry bar indices and their signals (vectorised)."""
    if holding == "horizon":
        if horizon is None or isinstance(horizon, bool) or int(horizon) != horizon or horizon < 1:
            raise ConfigError(
                f"horizon: holding='horizon' needs a positive whole number of bars, got {horizon!r}"
            )
        active = (entry_index < n_bars) & (signal != 0)
    elif holding == "until_next_signal":
        if horizon is not None:
            raise ConfigError("horizon: only used with holding='horizon'; drop it for 'until_next_signal'")
        active = entry_index < n_bars
    else:
        raise ConfigError(f"holding: unknown rule {holding!r}; use 'horizon' or 'until_next_signal'")
    if not active.any():
        return np.zeros(n_bars, dtype=np.float64)
    marker = np.full(n_bars, -1, dtype=np.int64)
    marker[entry_index[active]] = np.flatnonzero(active)
    latest = np.maximum.accumulate(marker)  # the latest decision filled at or before each bar
    has = latest >= 0
    safe = np.where(has, latest, 0)
    if holding == "horizon":
        has &= np.arange(n_bars) - entry_index[safe] < int(horizon)  # type: ignore[arg-type]
    return np.where(has, signal[safe], 0.0).astype(np.float64)


def _mark_to_market(
    ts: np.ndarray,
    open_: np.ndarray,
    close: np.ndarray,
    position: np.ndarray,
    instrument: Instrument,
    holding: Holding,
    horizon: int | None,
    capital: float | None,
) -> BacktestResult:
    cps = cost_per_side_points(instrument)
    prev_pos = np.concatenate(([0.0], position[:-1]))
    prev_close = np.concatenate(([open_[0]], close[:-1]))
    gap = prev_pos * (open_ - prev_close)
    intrabar = position * (close - open_)
    sides = np.abs(position - prev_pos)
    sides[-1] += abs(position[-1])  # end-of-data liquidation at the last close
    costs = sides * cps
    pnl = gap + intrabar - costs
    if capital is None:
        if (prev_close <= 0).any():
            k = int(np.flatnonzero(prev_close <= 0)[0])
            raise DataError(
                f"bar {k}: reference price {prev_close[k]} is not positive, so returns relative to the "
                "contract notional are undefined; pass capital=<account size in currency> instead"
            )
        returns = pnl / prev_close
    else:
        if not (np.isfinite(capital) and capital > 0):
            raise ConfigError(f"capital: must be a positive account size in currency, got {capital!r}")
        returns = pnl * instrument.point_value / capital
    trades = _trades(ts, open_, close, position, prev_pos, gap, intrabar, cps, instrument.point_value)
    pnl_ccy = pnl * instrument.point_value
    return BacktestResult(
        bar_ts=ts,
        bar_open=open_,
        bar_close=close,
        position=position,
        pnl_points=pnl,
        pnl_currency=pnl_ccy,
        costs_points=costs,
        returns=returns,
        equity_currency=np.cumsum(pnl_ccy),
        equity_returns=np.cumsum(returns),
        trades=trades,
        instrument=instrument,
        holding=holding,
        horizon=horizon,
        capital=capital,
    )


def _trades(
    ts: np.ndarray,
    open_: np.ndarray,
    close: np.ndarray,
    position: np.ndarray,
    prev_pos: np.ndarray,
    gap: np.ndarray,
    intrabar: np.ndarray,
    cps: float,
    point_value: float,
) -> Trades:
    n = ts.shape[0]
    sgn = np.sign(position)
    sgn_prev = np.sign(prev_pos)
    starts_mask = (sgn != 0) & (sgn != sgn_prev)
    trade_id = np.where(sgn != 0, np.cumsum(starts_mask) - 1, -1)
    prev_id = np.concatenate(([-1], trade_id[:-1]))
    n_trades = int(starts_mask.sum())
    sign_change = sgn != sgn_prev
    # Cost split at a sign change: the closing side belongs to the old trade, the opening side to the new.
    exit_cost = np.where(sign_change, np.abs(prev_pos), 0.0) * cps
    entry_cost = np.where(sign_change, np.abs(position), np.abs(position - prev_pos)) * cps
    cur, prv = trade_id >= 0, prev_id >= 0
    costs = np.bincount(trade_id[cur], weights=entry_cost[cur], minlength=n_trades)
    costs += np.bincount(prev_id[prv], weights=exit_cost[prv], minlength=n_trades)
    if sgn[-1] != 0:
        costs[trade_id[-1]] += abs(position[-1]) * cps
    gross = np.bincount(trade_id[cur], weights=intrabar[cur], minlength=n_trades)
    gross += np.bincount(prev_id[prv], weights=gap[prv], minlength=n_trades)
    pnl = gross - costs

    starts = np.flatnonzero(starts_mask)
    next_sgn = np.concatenate((sgn[1:], [0.0]))
    ends = np.flatnonzero((sgn != 0) & ((next_sgn != sgn) | (np.arange(n) == n - 1)))
    exit_idx = ends + 1
    at_end = exit_idx >= n
    exit_idx = np.minimum(exit_idx, n - 1)
    exit_price = np.where(at_end, close[exit_idx], open_[exit_idx])
    return Trades(
        entry_index=starts.astype(np.int64),
        exit_index=exit_idx.astype(np.int64),
        entry_ts=ts[starts],
        exit_ts=ts[exit_idx],
        side=sgn[starts].astype(np.int8),
        size=np.abs(position[starts]),
        entry_price=open_[starts],
        exit_price=exit_price,
        closed_at_end=at_end,
        pnl_points=pnl,
        pnl_currency=pnl * point_value,
        costs_points=costs,
    )


def _check_bars(bar_ts: np.ndarray, bar_open: np.ndarray, bar_close: np.ndarray) -> tuple[np.ndarray, ...]:
    ts = np.asarray(bar_ts)
    if ts.ndim != 1 or ts.shape[0] == 0 or ts.dtype.kind not in "iu":
        raise DataError(
            f"bar_ts: expected a non-empty 1-D int64 array of ns UTC close timestamps, got dtype {ts.dtype}, shape {ts.shape}"
        )
    ts = ts.astype(np.int64, copy=False)
    if (np.diff(ts) <= 0).any():
        i = int(np.flatnonzero(np.diff(ts) <= 0)[0]) + 1
        raise DataError(f"bar_ts: not strictly increasing at bar {i}; sort the bars and drop duplicates")
    out = [ts]
    for name, arr in (("bar_open", bar_open), ("bar_close", bar_close)):
        a = np.asarray(arr, dtype=np.float64)
        if a.shape != ts.shape:
            raise DataError(f"{name}: length {a.shape} does not match bar_ts {ts.shape}")
        if not np.isfinite(a).all():
            raise DataError(f"{name}: bar {int(np.flatnonzero(~np.isfinite(a))[0])} is NaN or infinite")
        out.append(a)
    return tuple(out)


def _check_decisions(decision_ts: np.ndarray, signal_positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dts = np.asarray(decision_ts)
    if dts.ndim != 1 or dts.dtype.kind not in "iu":
        raise DataError(
            f"decision_ts: expected a 1-D int64 array of ns UTC timestamps, got dtype {dts.dtype}, shape {dts.shape}"
        )
    dts = dts.astype(np.int64, copy=False)
    sig = np.asarray(signal_positions, dtype=np.float64)
    if sig.shape != dts.shape:
        raise DataError(f"signal_positions: length {sig.shape} does not match decision_ts {dts.shape}")
    if (np.diff(dts) <= 0).any():
        i = int(np.flatnonzero(np.diff(dts) <= 0)[0]) + 1
        raise DataError(
            f"decision_ts: not strictly increasing at decision {i}; one decision per bar, in time order"
        )
    bad = ~np.isfinite(sig) | (np.abs(sig) > 1.0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"signal_positions[{i}] = {sig[i]} is not a finite position in [-1, 1]")
    return dts, sig
