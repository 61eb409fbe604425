"""Checks on what the values and stamps of a bar file can plausibly be.

- ``implausible_values``: infinite values, and prices outside a band around a robust trailing level
  (the median close of the last ``LEVEL_WINDOW`` bars up to this one: causal). A price is plausible within ``factor`` of the level (level ÷ factor to level ×
  factor) or within ``ticks`` ticks of it, whichever is wider, so the band scales with the
  instrument: a 6E price with its decimal point slipped (10.8 for 1.08) and an MES price of 60
  are caught, a CL price of -37 after 18 is not. A price above 1e9 ticks is implausible whatever the level.
  Missing and non-positive prices are left to their own problem classes.
- ``sub_minute``: timestamps off the whole minute (second bars read as minute bars).
- ``stamp_open_warning``: bars stamped exactly at the session open and none at its close, the
  mark of a file that stamps bars at their open.
- ``probable_rolls``: price spikes whose new level persists, the mark of two contracts joined.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from mlfactory.data.instruments import Instrument

PRICE_COLS = ("open", "high", "low", "close")
LEVEL_WINDOW = 60
MAX_PRICE_TICKS = 1e9
MAX_VOLUME = 1e12
ROLL_WINDOW = 30  # bars either side whose median levels decide whether a jump persists
ROLL_MIN_AFTER = 5
ROLL_GAP_SHARE = 0.8  # the bar after a roll opens at the new contract's level
ROLL_BREAK_FACTOR = 20.0  # a roll across a session break dwarfs the file's usual gaps at such breaks
BREAK_NS = 30 * 60_000_000_000
LONG_BREAK_NS = 6 * 3_600_000_000_000


def trailing_level(close: pl.Series) -> pl.Series:
    """Median close of the last ``LEVEL_WINDOW`` bars up to and including this one (rows in time order).

    Causal: a bar's level never depends on later bars, so dropping implausible rows cannot leak the
    future. Non-finite closes carry the last finite close forward; before the first one the level
    is NaN (and only the absolute checks apply).
    """
    finite = close.cast(pl.Float64)
    finite = pl.select(pl.when(finite.is_finite()).then(finite).otherwise(None).forward_fill()).to_series()
    level = finite.rolling_median(window_size=LEVEL_WINDOW, min_samples=1)
    return level.fill_null(float("nan"))


def implausible_price(
    p: np.ndarray, level: np.ndarray, instrument: Instrument, factor: float, ticks: float
) -> np.ndarray:
    """Prices outside the band around ``level`` (within ``factor`` of it or ``ticks`` ticks of it,
    whichever is wider), infinite, or above ``MAX_PRICE_TICKS`` ticks. Works on scalars too."""
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        ratio = p / level
        outside_factor = ~((ratio >= 1.0 / factor) & (ratio <= factor))  # NaN (signs differ) → outside
        outside_ticks = np.abs(p - level) > ticks * instrument.tick_size
        huge = np.abs(p) > MAX_PRICE_TICKS * instrument.tick_size
        return np.isinf(p) | (outside_factor & outside_ticks) | huge


def implausible_volume(v: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.isinf(v) | (v > MAX_VOLUME)


def implausible_values(
    df: pl.DataFrame, instrument: Instrument, factor: float, ticks: float
) -> tuple[pl.Series, str]:
    """Rows with an implausible value (in ``df``'s row order) and the first offending column."""
    sorted_in = df["timestamp"].is_sorted()
    order = pl.int_range(0, df.height, eager=True) if sorted_in else df["timestamp"].arg_sort()
    in_time = df if sorted_in else df[order]
    level = trailing_level(in_time["close"]).to_numpy()
    bad_cols: dict[str, np.ndarray] = {}
    for c in PRICE_COLS:
        p = in_time[c].cast(pl.Float64).fill_null(np.nan).to_numpy()
        bad = implausible_price(p, level, instrument, factor, ticks)
        owned = np.isnan(p) if instrument.allow_non_positive_prices else np.isnan(p) | (p <= 0)
        bad_cols[c] = bad & ~owned  # NaN and (where not allowed) non-positive prices have their own classes
    bad_cols["volume"] = implausible_volume(in_time["volume"].cast(pl.Float64).fill_null(np.nan).to_numpy())
    any_bad = np.logical_or.reduce(list(bad_cols.values()))
    mask = np.zeros(df.height, dtype=bool)
    mask[order.to_numpy()] = any_bad
    column = "close"
    if any_bad.any():
        first = int(np.flatnonzero(mask)[0])
        pos = int(np.flatnonzero(order.to_numpy() == first)[0])
        column = next(c for c, b in bad_cols.items() if b[pos])
    return pl.Series(mask), column


def sub_minute(df: pl.DataFrame) -> pl.Series:
    """True where the timestamp is not on a whole minute."""
    return (df["timestamp"].dt.epoch("ns") % 60_000_000_000) != 0


def stamp_open_warning(df: pl.DataFrame, instrument: Instrument, path: str) -> str | None:
    """A warning when the bars look stamped at their open (``stamp_open_evidence``)."""
    evidence = stamp_open_evidence(df, instrument, path)
    if evidence is None:
        return None
    return (
        f"{evidence}: the file probably stamps bars at their open. If so, pass --stamp open (and check --tz)"
    )


def stamp_open_evidence(df: pl.DataFrame, instrument: Instrument, path: str) -> str | None:
    """What shows the bars are stamped at their open, when they look so: most sessions have a bar
    exactly on the session open time and almost none on the session close time."""
    spec = instrument.session
    if spec.kind != "exchange" or df.height == 0 or "session_open" not in df.columns:
        return None
    # A bar stamped at a session's open falls in the break before it, so compare with every session open.
    # Shares of sessions, not "none at all": an early close (a holiday) can put one bar on a close time.
    at_open = df["timestamp"].is_in(df["session_open"].unique().implode())
    at_close = df["timestamp"] == df["session_close"]
    n_sessions = max(df["session_open"].n_unique(), 1)
    open_share = df.filter(at_open)["timestamp"].n_unique() / n_sessions
    close_share = df.filter(at_close)["session_close"].n_unique() / n_sessions
    if open_share < 0.5 or close_share > 0.1:
        return None
    first = int(df["row"][int(at_open.arg_max())])
    return (
        f"{path}: {int(at_open.sum())} bar(s) are stamped exactly at the session open {spec.open} "
        f"{spec.timezone} (first at row {first}) and none at the session close {spec.close}"
    )


def probable_rolls(df: pl.DataFrame, spikes: np.ndarray) -> np.ndarray:
    """The spikes that look like a change of contract rather than a market move.

    A roll in a file that joins contracts moves the price between two bars and the new level
    stays: the bar opens at the new level (its open gap carries at least ``ROLL_GAP_SHARE`` of the
    jump) and the median of the next bars sits beyond half the jump. News moves happen inside the
    bar (no open gap) and are left as spikes. Across a session break, markets gap too, so a break's
    gap must also exceed ``ROLL_BREAK_FACTOR`` × the median gap of the file's breaks of the same
    kind (daily breaks, or weekends and holidays). This looks at the bars after a spike; it only
    decides how a spike is reported, never moves, drops or repairs a price.
    """
    close = df["close"].to_numpy()
    open_ = df["open"].to_numpy()
    ts = df["timestamp"].dt.epoch("ns").to_numpy()
    rolls = np.zeros(len(close), dtype=bool)
    if len(close) < 2:
        return rolls
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = np.abs(np.log(open_[1:] / close[:-1]))
    step = np.diff(ts)
    kind = np.where(step > LONG_BREAK_NS, 2, np.where(step > BREAK_NS, 1, 0))
    baseline = {k: _break_baseline(gap, kind, k) for k in (1, 2)}
    for i in np.flatnonzero(spikes):
        if i < 1 or i + ROLL_MIN_AFTER > len(close):
            continue
        jump = close[i] - close[i - 1]
        open_gap = open_[i] - close[i - 1]
        shift = np.median(close[i : i + ROLL_WINDOW]) - np.median(close[max(0, i - ROLL_WINDOW) : i])
        carried = (
            jump != 0 and np.sign(open_gap) == np.sign(jump) and abs(open_gap) >= ROLL_GAP_SHARE * abs(jump)
        )
        stays = np.isfinite(shift) and np.sign(shift) == np.sign(jump) and abs(shift) >= 0.5 * abs(jump)
        k = int(kind[i - 1])
        beyond_breaks = k == 0 or gap[i - 1] > ROLL_BREAK_FACTOR * baseline[k]
        rolls[i] = bool(carried and stays and beyond_breaks)
    return rolls


def _break_baseline(gap: np.ndarray, kind: np.ndarray, k: int) -> float:
    """Median absolute open gap of the file's breaks of kind ``k`` (all breaks when there are few)."""
    same = gap[(kind == k) & np.isfinite(gap)]
    if len(same) < 3:
        same = gap[(kind > 0) & np.isfinite(gap)]
    return float(np.median(same)) if len(same) >= 3 else 0.0


def roll_warning(df: pl.DataFrame, rolls: np.ndarray, instrument: Instrument, path: str) -> str | None:
    if not rolls.any():
        return None
    i = int(np.flatnonzero(rolls)[0])
    close = df["close"]
    gap = float(close[i] - close[i - 1])
    return (
        f"{path}: probable contract roll at {df['timestamp'][i]} (row {int(df['row'][i])}): the price moves by "
        f"{gap:+g} ({gap / instrument.tick_size:+.0f} ticks) and stays there ({int(rolls.sum())} such jump(s)). "
        "The file seems to join contracts; build a continuous series with `mlfactory data stitch`"
    )
