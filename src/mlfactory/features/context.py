"""The bars of one timeframe as float64/int64 numpy arrays, plus a memo for shared intermediates."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import numpy as np
import polars as pl

from mlfactory.data.instruments import Instrument
from mlfactory.errors import DataError
from mlfactory.timeframes import check_timeframe, tf_minutes

T = TypeVar("T")

REQUIRED_COLUMNS: dict[str, str] = {
    "timestamp": "Datetime(ns, UTC), the bar close",
    "open": "float",
    "high": "float",
    "low": "float",
    "close": "float",
    "volume": "float",
    "trading_day": "Date",
    "session_open": "Datetime(ns, UTC)",
    "session_close": "Datetime(ns, UTC)",
}


BAR_ARRAYS = ("ts", "open", "high", "low", "close", "volume", "session_open", "session_close", "trading_day")


@dataclass
class BarContext:
    """Input of every feature's ``compute``: arrays of one timeframe, in time order."""

    tf: str
    instrument: Instrument
    ts: np.ndarray  # int64 ns UTC, bar close
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    session_open: np.ndarray  # int64 ns UTC
    session_close: np.ndarray  # int64 ns UTC
    trading_day: np.ndarray  # datetime64[D]
    state: dict[str, dict[str, Any]] = field(default_factory=dict)  # fitted state per feature name
    _memo: dict[Any, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_bars(cls, bars: pl.DataFrame, tf: str, instrument: Instrument) -> BarContext:
        check_columns(bars, tf)
        f64 = bars.select(pl.col(c).cast(pl.Float64) for c in ("open", "high", "low", "close", "volume"))
        ctx = cls(
            tf=tf,
            instrument=instrument,
            ts=bars["timestamp"].dt.epoch("ns").to_numpy(),
            open=f64["open"].to_numpy(),
            high=f64["high"].to_numpy(),
            low=f64["low"].to_numpy(),
            close=f64["close"].to_numpy(),
            volume=f64["volume"].to_numpy(),
            session_open=bars["session_open"].dt.epoch("ns").to_numpy(),
            session_close=bars["session_close"].dt.epoch("ns").to_numpy(),
            trading_day=bars["trading_day"].to_numpy().astype("datetime64[D]"),
        )
        ctx.check_values(bars)
        return ctx

    def check_values(self, bars: pl.DataFrame) -> None:
        """Fail fast on the value contract: increasing stamps, positive prices, finite OHLCV."""
        tf = self.tf
        if (np.diff(self.ts) <= 0).any():
            raise DataError(
                f"features on {tf}: timestamps must be strictly increasing (sorted, no duplicates)"
            )
        ohlcv = (self.open, self.high, self.low, self.close, self.volume)
        finite = np.logical_and.reduce([np.isfinite(a) for a in ohlcv])
        if not finite.all():
            row = int(np.argmin(finite))
            raise DataError(f"features on {tf}: non-finite OHLCV at row {row} ({bars['timestamp'][row]})")
        low = min(float(a.min()) for a in ohlcv[:4])
        if not low > 0:
            raise DataError(
                f"features on {tf}: non-positive price {low} found; log-price features need positive prices "
                "(shift or drop the affected contract's bars)"
            )
        if (self.volume < 0).any():
            raise DataError(f"features on {tf}: negative volume; validate the bars first")

    def tail(self, n: int) -> BarContext:
        """The last ``n`` bars as a context of their own (array views, no fitted state, a fresh memo)."""
        start = max(len(self) - int(n), 0)
        return replace(self, **{k: getattr(self, k)[start:] for k in BAR_ARRAYS}, state={}, _memo={})

    def __len__(self) -> int:
        return len(self.close)

    def memo(self, key: Any, fn: Callable[[], T]) -> T:
        """Compute ``fn()`` once per context (shared intermediates such as an ATR or MACD triple)."""
        if key not in self._memo:
            self._memo[key] = fn()
        return self._memo[key]

    @property
    def log_close(self) -> np.ndarray:
        return self.memo("log_close", lambda: np.log(self.close))

    @property
    def ret1(self) -> np.ndarray:
        """One-bar log return (NaN at the first bar)."""

        def _ret1() -> np.ndarray:
            r = np.empty_like(self.close)
            r[0] = np.nan
            np.subtract(self.log_close[1:], self.log_close[:-1], out=r[1:])
            return r

        return self.memo("ret1", _ret1)

    @property
    def bars_per_year(self) -> float:
        """Bars of this timeframe in a year of trading, from the instrument's real session length."""
        session = self.instrument.session
        per_day = session.trading_minutes_per_day / min(tf_minutes(self.tf), session.trading_minutes_per_day)
        return per_day * session.trading_days_per_year


def check_columns(bars: pl.DataFrame, tf: str) -> None:
    """Fail fast on the input contract's columns: present, typed, no nulls, at least one bar."""
    check_timeframe(tf)
    missing = [c for c in REQUIRED_COLUMNS if c not in bars.columns]
    if missing:
        need = ", ".join(f"{c} ({REQUIRED_COLUMNS[c]})" for c in missing)
        raise DataError(
            f"features on {tf}: bars lack columns {need}; build them with the ladder (data.resample)"
        )
    for col in ("timestamp", "session_open", "session_close"):
        dtype = bars.schema[col]
        if not isinstance(dtype, pl.Datetime) or dtype.time_unit != "ns" or dtype.time_zone != "UTC":
            raise DataError(f"features on {tf}: column {col} must be Datetime('ns', 'UTC'), got {dtype}")
    if bars.height == 0:
        raise DataError(f"features on {tf}: no bars")
    null_cols = [c for c in REQUIRED_COLUMNS if bars[c].null_count()]
    if null_cols:
        raise DataError(f"features on {tf}: columns {null_cols} contain nulls; validate the bars first")
