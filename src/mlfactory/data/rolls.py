"""Continuous contracts: stitch per-contract 1-minute bars into one series, choosing each roll by a rule.

Contracts are named like ``MESU5`` / ``MESU25`` (root, CME month code, year) or ``MES 09-25`` /
``MES_09-25`` (NinjaTrader style), taken from a file name or a ``contract`` column. Contracts are
ordered by expiry; between a front contract ``A`` and the next ``B`` the roll rule picks the first
trading day on which the series switches to ``B`` (the *effective day*):

- ``volume``: the first trading day ``D`` (both contracts trading) on which ``B``'s daily volume
  exceeds ``A``'s; the switch happens at the next trading day of ``B`` after ``D`` (the crossover is
  known only at ``D``'s close, so the choice is causal).
- ``open-interest``: the same crossover on the daily open interest (last value of the day) of an
  ``open_interest`` column; files without one are refused.
- ``calendar``: ``days_before_expiry`` business days before ``A``'s reference expiry, the third
  Friday of its contract month (the last trading day of the CME equity-index futures); the switch
  happens at the first trading day of ``B`` on or after that date.

If the rule never fires while ``A`` has data, the switch happens at ``B``'s first trading day after
``A``'s last one (recorded as ``"front data ended"``). Rolls happen at trading-day boundaries, so a
roll always coincides with a session break.

The price gap of a roll is ``B``'s close minus ``A``'s close at ``A``'s last bar before the switch
(``B``'s latest close at or before that time; ``B``'s first open if it has none). Adjustments:
``back`` adds each later roll's gap to all earlier bars (the latest contract keeps its prices),
``ratio`` multiplies earlier bars by ``B/A`` at each later roll, ``none`` keeps raw prices. Each
bar carries ``contract`` and ``segment`` (0, 1, ... one per contract held); the segment is the
marker that every time-spanning step (labels, windows, returns, backtests) treats as a break.

Adjustment and causality: a back or ratio adjustment shifts the bars *before* a roll by that
roll's gap, which is measured at the last bar before the switch, so a series stitched from data up
to ``t`` never depends on bars after ``t`` until the next roll happens; a later roll re-prices the
whole history before it (the convention of every continuous contract). Triple-barrier labels are
unchanged by either adjustment (barriers move with ATR, touches stay the same; ``ret`` is exact
under ``ratio``), and ratio-based features are unchanged by ``ratio``. With ``none`` the labels,
windows and backtests still stop at the roll, but indicators that span it see its price gap.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import numpy as np
import polars as pl

from mlfactory.data.instruments import Instrument
from mlfactory.data.segments import SEGMENT
from mlfactory.data.sessions import trading_day_expr
from mlfactory.errors import ConfigError, DataError

RollRule = Literal["volume", "open-interest", "calendar"]
Adjust = Literal["back", "ratio", "none"]
ROLL_RULES: tuple[str, ...] = ("volume", "open-interest", "calendar")
ADJUSTMENTS: tuple[str, ...] = ("back", "ratio", "none")
MONTH_CODES = "FGHJKMNQUVXZ"
CONTRACT = "contract"
OPEN_INTEREST = "open_interest"
PRICE_COLS = ("open", "high", "low", "close")


@dataclass(frozen=True, order=True)
class Contract:
    """One futures contract; ordered by expiry (year, month)."""

    year: int
    month: int
    root: str

    @property
    def code(self) -> str:
        return f"{self.root}{MONTH_CODES[self.month - 1]}{self.year % 100:02d}"

    def reference_expiry(self) -> date:
        """The third Friday of the contract month."""
        first = np.datetime64(f"{self.year:04d}-{self.month:02d}-01", "D")
        return np.busday_offset(first, 2, roll="forward", weekmask="Fri").astype(date)


def parse_contract(text: str, symbol: str, first_year: int) -> Contract | None:
    """The contract of ``symbol`` named in ``text`` (a file name or a contract value), or None.

    A one-digit year is the first year >= ``first_year`` (the year of the contract's first bar)
    ending in that digit; two digits mean 20YY.
    """
    up = str(text).upper()
    root = re.escape(symbol.upper())
    coded = re.search(rf"(?<![A-Z0-9]){root}[ _-]?([{MONTH_CODES}])(\d{{4}}|\d{{1,2}})(?!\d)", up)
    if coded:
        month = MONTH_CODES.index(coded.group(1)) + 1
        year = _year(coded.group(2), first_year)
        return Contract(year, month, symbol.upper())
    numeric = re.search(rf"(?<![A-Z0-9]){root}[ _.-](\d{{2}})-(\d{{4}}|\d{{2}})(?!\d)", up)
    if numeric and 1 <= int(numeric.group(1)) <= 12:
        return Contract(_year(numeric.group(2), first_year), int(numeric.group(1)), symbol.upper())
    return None


def _year(digits: str, first_year: int) -> int:
    if len(digits) == 4:
        return int(digits)
    if len(digits) == 2:
        return 2000 + int(digits)
    d = int(digits)
    return first_year + (d - first_year % 10) % 10


@dataclass
class Roll:
    """One switch from contract ``from_contract`` to ``to_contract``."""

    effective_day: str  # first trading day on the new contract
    decided_day: str | None  # the trading day whose data fired the rule (None: calendar / data ended)
    from_contract: str
    to_contract: str
    reason: str
    last_ts_before: str  # last bar of the old contract in the series
    first_ts_after: str  # first bar of the new contract in the series
    from_close: float
    to_close: float
    price_gap: float
    ratio: float
    adjustment: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.effective_day,
            "decided_on": self.decided_day,
            "from": self.from_contract,
            "to": self.to_contract,
            "reason": self.reason,
            "last_bar_before": self.last_ts_before,
            "first_bar_after": self.first_ts_after,
            "from_close": self.from_close,
            "to_close": self.to_close,
            "price_gap": self.price_gap,
            "ratio": self.ratio,
            "adjustment": self.adjustment,
        }


@dataclass
class StitchResult:
    bars: pl.DataFrame  # canonical columns + contract + segment, sorted by timestamp
    rolls: list[Roll]
    contracts: list[dict[str, Any]]
    rule: str
    adjust: str
    days_before_expiry: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "roll_rule": self.rule,
            "adjust": self.adjust,
            "days_before_expiry": self.days_before_expiry if self.rule == "calendar" else None,
            "expiry_rule": "third Friday of the contract month" if self.rule == "calendar" else None,
            "contracts": self.contracts,
            "rolls": [r.to_dict() for r in self.rolls],
        } | (
            {
                "warning": "unadjusted: indicators that span a roll see its price gap (labels, windows "
                "and backtests still stop at each roll); use --adjust back or ratio to remove it"
            }
            if self.adjust == "none" and self.rolls
            else {}
        )


def _check_choice(value: str, allowed: tuple[str, ...], flag: str) -> str:
    if value not in allowed:
        raise ConfigError(f"{flag} {value!r} is unknown; use one of {', '.join(allowed)}")
    return value


def _daily(bars: pl.DataFrame) -> pl.DataFrame:
    aggs = [pl.col("volume").sum().alias("volume")]
    if OPEN_INTEREST in bars.columns:
        aggs.append(pl.col(OPEN_INTEREST).drop_nulls().last().alias(OPEN_INTEREST))
    return bars.group_by("trading_day").agg(aggs).sort("trading_day")


def _effective_day(
    rule: str,
    front: Contract,
    nxt: Contract,
    a_daily: pl.DataFrame,
    b_daily: pl.DataFrame,
    start: date | None,
    days_before_expiry: int,
) -> tuple[date, date | None, str]:
    """First trading day on ``nxt``, the day that decided it, and why."""
    b_days = b_daily["trading_day"]
    if start is not None:
        b_days = b_days.filter(b_days > start)
    if b_days.len() == 0:
        raise DataError(
            f"contract {nxt.code} has no bars after {front.code} became the front contract; "
            "check the files' contracts and date ranges"
        )
    both = a_daily.join(b_daily, on="trading_day", suffix="_b").sort("trading_day")
    if start is not None:
        both = both.filter(pl.col("trading_day") >= start)
    if rule in ("volume", "open-interest"):
        col = "volume" if rule == "volume" else OPEN_INTEREST
        hit = both.filter(pl.col(f"{col}_b") > pl.col(col))
        if hit.height:
            decided = hit["trading_day"][0]
            after = b_days.filter(b_days > decided)
            if after.len():
                return after[0], decided, f"{nxt.code} {col.replace('_', ' ')} above {front.code}'s"
    else:
        roll_date = np.busday_offset(
            np.datetime64(front.reference_expiry(), "D"), -days_before_expiry, roll="backward"
        ).astype(date)
        after = b_days.filter(b_days >= roll_date)
        if after.len() and roll_date <= a_daily["trading_day"].max():
            return (
                after[0],
                None,
                f"{days_before_expiry} business days before {front.code}'s expiry {front.reference_expiry()}",
            )
    ended = b_days.filter(b_days > a_daily["trading_day"].max())
    if ended.len() == 0:
        raise DataError(f"contract {nxt.code}: no bar after {front.code}'s data ends; cannot roll")
    return ended[0], None, "front data ended"


def stitch(
    parts: dict[Contract, pl.DataFrame],
    instrument: Instrument,
    *,
    rule: str = "volume",
    adjust: str = "back",
    days_before_expiry: int = 8,
) -> StitchResult:
    """Stitch canonical bars per contract (timestamp/open/high/low/close/volume[/open_interest])."""
    _check_choice(rule, ROLL_RULES, "--roll")
    _check_choice(adjust, ADJUSTMENTS, "--adjust")
    if days_before_expiry < 0:
        raise ConfigError(f"days before expiry must be >= 0, got {days_before_expiry}")
    if not parts:
        raise DataError("stitch: no contracts given")
    contracts = sorted(parts)
    if rule == "open-interest":
        lacking = [c.code for c in contracts if OPEN_INTEREST not in parts[c].columns]
        if lacking:
            raise DataError(
                f"--roll open-interest needs an open_interest column; {', '.join(lacking)} have none. "
                "Use --roll volume or --roll calendar, or add the column"
            )
    framed = {
        c: parts[c].sort("timestamp").with_columns(trading_day_expr(instrument).alias("trading_day"))
        for c in contracts
    }
    daily = {c: _daily(framed[c]) for c in contracts}
    starts: list[date | None] = [None]
    decided: list[tuple[date | None, str]] = []
    for a, b in itertools.pairwise(contracts):
        eff, dec, why = _effective_day(rule, a, b, daily[a], daily[b], starts[-1], days_before_expiry)
        starts.append(eff)
        decided.append((dec, why))
    pieces = []
    for i, c in enumerate(contracts):
        f = framed[c]
        if starts[i] is not None:
            f = f.filter(pl.col("trading_day") >= starts[i])
        if i + 1 < len(contracts):
            f = f.filter(pl.col("trading_day") < starts[i + 1])
        if f.height == 0:
            raise DataError(
                f"contract {c.code} is never the front contract under --roll {rule} "
                f"(its turn is empty); drop its file or choose another rule"
            )
        pieces.append(
            f.with_columns(pl.lit(c.code).alias(CONTRACT), pl.lit(i, dtype=pl.Int32).alias(SEGMENT))
        )
    rolls = [
        _make_roll(pieces[i], framed[contracts[i + 1]], contracts[i + 1].code, starts[i + 1], *decided[i])
        for i in range(len(pieces) - 1)
    ]
    pieces, summaries = _apply_adjustment(pieces, rolls, adjust)
    bars = pl.concat(pieces, how="vertical_relaxed").drop("trading_day")
    return StitchResult(bars, rolls, summaries, rule, adjust, days_before_expiry)


def _make_roll(
    old: pl.DataFrame, new_full: pl.DataFrame, to_code: str, eff: date, decided_day: date | None, why: str
) -> Roll:
    last = old.row(old.height - 1, named=True)
    t_last = last["timestamp"]
    before = new_full.filter(pl.col("timestamp") <= t_last)
    after = new_full.filter(pl.col("trading_day") >= eff)
    to_close = float(before["close"][-1]) if before.height else float(after["open"][0])
    from_close = float(last["close"])
    return Roll(
        effective_day=str(eff),
        decided_day=None if decided_day is None else str(decided_day),
        from_contract=str(last[CONTRACT]),
        to_contract=to_code,
        reason=why,
        last_ts_before=str(t_last),
        first_ts_after=str(after["timestamp"][0]),
        from_close=from_close,
        to_close=to_close,
        price_gap=to_close - from_close,
        ratio=to_close / from_close if from_close != 0 else float("nan"),
    )


def _apply_adjustment(
    pieces: list[pl.DataFrame], rolls: list[Roll], adjust: str
) -> tuple[list[pl.DataFrame], list[dict[str, Any]]]:
    """Shift (back) or scale (ratio) every segment by the rolls after it; record what was applied."""
    n = len(pieces)
    offsets = [sum(r.price_gap for r in rolls[i:]) for i in range(n)]
    factors = [float(np.prod([r.ratio for r in rolls[i:]])) if i < n - 1 else 1.0 for i in range(n)]
    if adjust == "ratio" and any(not np.isfinite(r.ratio) or r.ratio <= 0 for r in rolls):
        bad = next(r for r in rolls if not np.isfinite(r.ratio) or r.ratio <= 0)
        raise DataError(
            f"roll {bad.from_contract}→{bad.to_contract} on {bad.effective_day}: ratio {bad.ratio} is not positive; "
            "use --adjust back or none"
        )
    for r in rolls:
        r.adjustment = (
            {"kind": "back", "add_to_earlier": r.price_gap}
            if adjust == "back"
            else {"kind": "ratio", "multiply_earlier": r.ratio}
            if adjust == "ratio"
            else {"kind": "none"}
        )
    out, summaries = [], []
    for i, p in enumerate(pieces):
        if adjust == "back":
            p = p.with_columns([(pl.col(c) + offsets[i]).alias(c) for c in PRICE_COLS])
        elif adjust == "ratio":
            p = p.with_columns([(pl.col(c) * factors[i]).alias(c) for c in PRICE_COLS])
        out.append(p)
        summaries.append(
            {
                "contract": p[CONTRACT][0],
                "segment": i,
                "first_bar": str(p["timestamp"][0]),
                "last_bar": str(p["timestamp"][-1]),
                "rows": p.height,
                "price_offset": offsets[i] if adjust == "back" else 0.0,
                "price_factor": factors[i] if adjust == "ratio" else 1.0,
            }
        )
    return out, summaries
