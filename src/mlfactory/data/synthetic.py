"""Seeded synthetic 1-minute futures bars for the demo, tests and benchmarks.

Realistic enough to exercise every stage: CME Globex sessions from the exchange calendar (daily
break, weekends, holidays and early closes, DST), intraday volatility seasonality (quiet Asia,
spikes at the European and US opens), a volume profile tied to activity, fat-tailed (Student-t)
returns, volatility regimes that switch, minutes without trades left absent, and rare outages.
``momentum`` plants a learnable pattern: the drift of each minute follows the return of the
previous ``momentum_lookback`` minutes. With ``momentum=0`` prices carry no signal.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
from numba import njit

from mlfactory.data.instruments import Instrument, get_instrument
from mlfactory.data.sessions import MINUTE_NS, build_session_table


def _session_minutes(instrument: Instrument, start: date, n_days: int) -> tuple[np.ndarray, np.ndarray]:
    """Close stamps (int64 ns) of every minute of the first ``n_days`` calendar trading days from ``start``."""
    if instrument.session.kind == "continuous":
        days = np.arange(np.datetime64(start), np.datetime64(start) + n_days)
    else:
        weekdays = np.busday_offset(np.datetime64(start), np.arange(int(n_days * 1.2) + 10), roll="forward")
        days = weekdays.astype("datetime64[D]")
    table = build_session_table(instrument, days)
    keep = table.is_calendar_day
    opens, closes = table.open_ns[keep][:n_days], table.close_ns[keep][:n_days]
    counts = ((closes - opens) // MINUTE_NS).astype(np.int64)
    day_idx = np.repeat(np.arange(len(opens)), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    ts = opens[day_idx] + (offsets + 1) * MINUTE_NS
    return ts, day_idx


def _seasonality(ts: np.ndarray) -> np.ndarray:
    """Relative activity by UTC minute of day: quiet Asia, European open, US open and close peaks."""
    minute = (ts // MINUTE_NS) % 1440
    hours = minute / 60.0
    base = 0.45
    europe = 0.5 * np.exp(-0.5 * ((hours - 7.5) / 1.2) ** 2)
    us_open = 1.6 * np.exp(-0.5 * ((hours - 13.6) / 0.6) ** 2) + 0.7 * np.exp(
        -0.5 * ((hours - 15.5) / 2.0) ** 2
    )
    us_close = 0.6 * np.exp(-0.5 * ((hours - 19.9) / 0.4) ** 2)
    return base + europe + us_open + us_close


@njit(cache=True)
def _price_path(
    shocks: np.ndarray, sigma: np.ndarray, momentum: float, lookback: int, p0: float
) -> np.ndarray:
    n = len(shocks)
    logp = np.empty(n)
    rets = np.empty(n)
    level = np.log(p0)
    acc = 0.0
    for i in range(n):
        drift = 0.0
        if momentum != 0.0 and i >= lookback:
            drift = momentum * acc / lookback
        r = drift + sigma[i] * shocks[i]
        rets[i] = r
        acc += r
        if i >= lookback:
            acc -= rets[i - lookback]
        level += r
        logp[i] = level
    return logp


def generate_bars(
    n_bars: int = 100_000,
    *,
    symbol: str = "MES",
    start: date = date(2024, 1, 2),
    seed: int = 0,
    start_price: float = 4800.0,
    daily_vol: float = 0.011,
    momentum: float = 0.0,
    momentum_lookback: int = 15,
    missing_minute_rate: float = 0.01,
    outages_per_100k: float = 3.0,
    instrument: Instrument | None = None,
) -> pl.DataFrame:
    """About ``n_bars`` 1-minute bars (timestamp = bar close, UTC) of a synthetic ``symbol`` future."""
    inst = instrument or get_instrument(symbol)
    rng = np.random.default_rng(seed)
    minutes_per_day = inst.session.trading_minutes_per_day
    n_days = int(np.ceil(1.05 * n_bars / (minutes_per_day * (1 - missing_minute_rate)))) + 5
    ts, _ = _session_minutes(inst, start, n_days)

    season = _seasonality(ts)
    n = len(ts)
    # Volatility regimes: a two-state Markov chain switching every few days on average.
    switch = rng.random(n) < 1.0 / (minutes_per_day * 4)
    regime = np.cumsum(switch) % 2
    regime_scale = np.where(regime == 1, 1.8, 0.8)
    sigma_1m = daily_vol / np.sqrt(minutes_per_day) * season / season.mean() * regime_scale
    dof = 4.0
    shocks = rng.standard_t(dof, size=n) / np.sqrt(dof / (dof - 2))
    logp = _price_path(shocks, sigma_1m, momentum, momentum_lookback, start_price)

    tick = inst.tick_size
    close = np.round(np.exp(logp) / tick) * tick
    prev_close = np.concatenate(([np.round(start_price / tick) * tick], close[:-1]))
    gap_noise = np.where(rng.random(n) < 0.1, np.round(rng.normal(0, 0.5, n)) * tick, 0.0)
    open_ = prev_close + gap_noise
    wick = np.abs(rng.normal(0, 1, (2, n))) * sigma_1m * close * 0.6
    high = np.maximum(open_, close) + np.round(wick[0] / tick) * tick
    low = np.minimum(open_, close) - np.round(wick[1] / tick) * tick
    activity = season * regime_scale * (1 + np.abs(shocks))
    volume = np.maximum(1, np.round(rng.lognormal(np.log(120), 0.6, n) * activity)).astype(np.float64)

    keep = rng.random(n) >= missing_minute_rate * (1.5 - np.minimum(season, 1.0))
    n_out = rng.poisson(outages_per_100k * n / 100_000)
    for s in rng.integers(0, n, n_out):
        keep[s : s + rng.integers(5, 40)] = False
    keep[0] = True
    frame = pl.DataFrame(
        {
            "timestamp": pl.Series(ts[keep], dtype=pl.Int64).cast(pl.Datetime("ns", "UTC")),
            "open": open_[keep],
            "high": high[keep],
            "low": low[keep],
            "close": close[keep],
            "volume": volume[keep],
        }
    )
    return frame.head(n_bars)
