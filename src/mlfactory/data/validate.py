"""Validate canonical 1-minute bars against the per-class policies and report what was found.

Each problem class is counted, its first offending source row and column are recorded, and the
class's policy is applied: ``fail`` raises a ``DataError`` naming the file, row, column and the
option that changes the policy; ``drop`` removes the rows; ``repair`` fixes them; ``warn`` keeps
them. Minutes without trades stay absent: gaps are reported, never filled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from mlfactory.data.instruments import Instrument
from mlfactory.data.plausibility import (
    implausible_values,
    probable_rolls,
    roll_warning,
    stamp_open_warning,
    sub_minute,
)
from mlfactory.data.policies import ALLOWED, DESCRIPTIONS, ValidationPolicies
from mlfactory.data.segments import bar_segments, segment_breaks
from mlfactory.data.sessions import attach_sessions, build_session_table
from mlfactory.errors import DataError

PRICE_COLS = ("open", "high", "low", "close")


@dataclass
class Finding:
    problem: str
    count: int
    policy: str
    action: str
    first_row: int | None = None
    column: str | None = None
    example: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ValidationReport:
    file: str
    symbol: str
    rows_in: int = 0
    rows_out: int = 0
    first_timestamp: str | None = None
    last_timestamp: str | None = None
    trading_days: int = 0
    bars_per_session: dict[str, float] = field(default_factory=dict)
    findings: dict[str, Finding] = field(default_factory=dict)
    gaps: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    format: str | None = None
    ingest: str | None = None
    rolls: dict[str, Any] | None = None  # set when the file's contract column was stitched

    @property
    def counts(self) -> dict[str, int]:
        return {k: f.count for k, f in self.findings.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "symbol": self.symbol,
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "first_timestamp": self.first_timestamp,
            "last_timestamp": self.last_timestamp,
            "trading_days": self.trading_days,
            "bars_per_session": self.bars_per_session,
            "counts": self.counts,
            "findings": {k: f.to_dict() for k, f in self.findings.items()},
            "gaps": self.gaps,
            "warnings": self.warnings,
            "format": self.format,
            "ingest": self.ingest,
        } | ({"rolls": self.rolls} if self.rolls is not None else {})


class _Validator:
    def __init__(
        self, path: Path, instrument: Instrument, policies: ValidationPolicies, report: ValidationReport
    ):
        self.path, self.instrument, self.policies, self.report = path, instrument, policies, report

    def handle(
        self, df: pl.DataFrame, problem: str, mask: pl.Series, column: str, repair=None
    ) -> pl.DataFrame:
        """Record ``problem`` on rows where ``mask`` is true and apply its policy."""
        mask = mask.fill_null(False)
        count = int(mask.sum())
        policy = getattr(self.policies, problem)
        finding = Finding(problem, count, policy, "none")
        self.report.findings[problem] = finding
        if count == 0:
            return df
        idx = int(mask.arg_max())
        finding.first_row = int(df["row"][idx])
        finding.column = column
        value = df[column][idx] if column in df.columns else None
        finding.example = f"{df['timestamp'][idx]} {column}={value if value is not None else ''}"
        if policy == "fail":
            others = ", ".join(p for p in ALLOWED[problem] if p != "fail")
            raise DataError(
                f"{self.path}: row {finding.first_row} ({df['timestamp'][idx]}), column {column!r}, value {value}: "
                f"{DESCRIPTIONS[problem]} "
                f"({count} row(s) in total). The policy for {problem!r} is 'fail'; to change it pass "
                f"--policy {problem}={others.split(', ')[0]} (allowed: {others}) or set data.validation.{problem} in the pipeline config."
            )
        if policy == "drop":
            finding.action = f"dropped {count} row(s)"
            return df.filter(~mask)
        if policy == "repair":
            finding.action = f"repaired {count} row(s)"
            return repair(df, mask)
        finding.action = f"kept {count} row(s) with a warning"
        return df


def validate_bars(
    df: pl.DataFrame,
    *,
    path: Path,
    instrument: Instrument,
    policies: ValidationPolicies,
    stamp: str = "close",
) -> tuple[pl.DataFrame, ValidationReport]:
    """Apply every check to canonical bars (from ``ingest``); return clean bars with session columns.

    ``stamp`` is the convention the timestamps were read with (it decides whether a file that looks
    stamped at the bar open deserves a warning).
    """
    report = ValidationReport(file=str(path), symbol=instrument.symbol, rows_in=df.height)
    v = _Validator(Path(path), instrument, policies, report)

    nan_price = pl.any_horizontal([pl.col(c).is_null() | pl.col(c).is_nan() for c in PRICE_COLS])
    df = v.handle(
        df, "missing_price", df.select(nan_price).to_series(), _first_bad_col(df, PRICE_COLS, "missing")
    )
    if instrument.allow_non_positive_prices:
        report.findings["non_positive_price"] = Finding(
            "non_positive_price", 0, "allowed by instrument", "none"
        )
    else:
        nonpos = df.select(pl.any_horizontal([pl.col(c) <= 0 for c in PRICE_COLS])).to_series()
        df = v.handle(df, "non_positive_price", nonpos, _first_bad_col(df, PRICE_COLS, "nonpos"))
    vol_missing = df["volume"].is_null() | df["volume"].is_nan()
    df = v.handle(
        df,
        "missing_volume",
        vol_missing,
        "volume",
        lambda d, m: d.with_columns(pl.when(m).then(0.0).otherwise(pl.col("volume")).alias("volume")),
    )
    df = v.handle(
        df,
        "negative_volume",
        df["volume"] < 0,
        "volume",
        lambda d, m: d.with_columns(pl.when(m).then(0.0).otherwise(pl.col("volume")).alias("volume")),
    )

    implausible, column = implausible_values(
        df, instrument, policies.implausible_factor, policies.implausible_ticks
    )
    df = v.handle(df.with_columns(_implausible=implausible), "implausible_value", implausible, column)

    ts = df["timestamp"]
    out_of_order = (ts < ts.shift(1)).fill_null(False)
    df = v.handle(
        df, "out_of_order", out_of_order, "timestamp", lambda d, m: d.sort("timestamp", maintain_order=True)
    )
    dup = df["timestamp"].is_duplicated() & ~df["timestamp"].is_first_distinct()
    df = v.handle(df, "duplicates", dup, "timestamp", lambda d, m: _merge_duplicates(d))
    df = v.handle(df, "bar_spacing", sub_minute(df), "timestamp")

    body_hi = pl.max_horizontal("open", "close")
    body_lo = pl.min_horizontal("open", "close")
    incons = df.select(
        (pl.col("high") < body_hi) | (pl.col("low") > body_lo) | (pl.col("high") < pl.col("low"))
    ).to_series()
    df = v.handle(df, "ohlc_inconsistent", incons, _ohlc_bad_col(df, incons), _repair_ohlc)
    df = v.handle(df, "zero_volume", df["volume"] == 0, "volume")

    df = attach_sessions(df, instrument)
    outside = (df["timestamp"] <= df["session_open"]) | (df["timestamp"] > df["session_close"])
    if instrument.calendar and instrument.session.kind == "exchange":
        days = df["trading_day"].unique().sort().to_numpy()
        table = build_session_table(instrument, days)
        cal_days = pl.Series(table.trading_day[table.is_calendar_day]).cast(pl.Date)
        outside = outside | ~df["trading_day"].is_in(cal_days.implode())
    if stamp == "close":
        report.warnings.extend(w for w in [stamp_open_warning(df, instrument, str(path))] if w)
    report.warnings.extend(w for w in [_session_mismatch_warning(outside, instrument, str(path))] if w)
    df = v.handle(df, "out_of_session", outside, "timestamp")

    logret = df.select(pl.col("close").log().diff().alias("r"))["r"]
    spikes = _robust_spikes(logret.to_numpy(), policies.spike_z)
    spikes &= ~segment_breaks(bar_segments(df), df.height)  # a stitched roll's jump is a roll, not a spike
    rolls = probable_rolls(df, spikes)  # an unstitched one is reported as a probable roll
    report.warnings.extend(w for w in [roll_warning(df, rolls, instrument, str(path))] if w)
    df = v.handle(df, "probable_roll", pl.Series(rolls), "close")
    df = v.handle(df, "price_spike", pl.Series(spikes & ~rolls), "close")  # probable_roll never drops rows
    df = df.drop("_implausible")

    if df.height == 0:
        raise DataError(f"{path}: no bars left after validation; check the policies in the report")
    report.rows_out = df.height
    report.first_timestamp = str(df["timestamp"][0])
    report.last_timestamp = str(df["timestamp"][-1])
    per_day = df.group_by("trading_day").len()["len"]
    report.trading_days = per_day.len()
    report.bars_per_session = {
        "mean": float(per_day.mean()),
        "min": int(per_day.min()),
        "max": int(per_day.max()),
    }
    report.gaps = classify_gaps(df, instrument, policies.unexpected_gap_minutes)
    return df, report


SESSION_MISMATCH_SHARE = 0.01


def _session_mismatch_warning(outside: pl.Series, instrument: Instrument, path: str) -> str | None:
    """Many bars outside the session: the symbol, the timezone or the stamp is probably wrong."""
    share = float(outside.mean() or 0.0) if outside.len() else 0.0
    if share <= SESSION_MISMATCH_SHARE:
        return None
    return (
        f"{path}: {int(outside.sum()):,} bar(s) ({share:.1%}) fall outside the {instrument.symbol} session "
        f"({instrument.session_name}, {instrument.timezone}); check --symbol, --tz (the timezone of the "
        "file's times) and --stamp"
    )


def _first_bad_col(df: pl.DataFrame, cols: tuple[str, ...], kind: str) -> str:
    for c in cols:
        s = df[c]
        bad = (s.is_null() | s.is_nan()) if kind == "missing" else (s <= 0)
        if bad.fill_null(False).any():
            return c
    return cols[0]


def _ohlc_bad_col(df: pl.DataFrame, incons: pl.Series) -> str:
    """The column to name for the first inconsistent bar: ``high`` unless only its low is wrong."""
    if not incons.any():
        return "high"
    row = df.row(int(incons.arg_max()), named=True)
    high_ok = row["high"] >= max(row["open"], row["close"]) and row["high"] >= row["low"]
    return "high" if not high_ok else "low"


def _merge_duplicates(df: pl.DataFrame) -> pl.DataFrame:
    agg = df.group_by("timestamp", maintain_order=True).agg(
        pl.col("open").first(),
        pl.col("high").max(),
        pl.col("low").min(),
        pl.col("close").last(),
        pl.col("volume").sum(),
        pl.col("row").first(),
        pl.col("_implausible").any(),
        *(
            pl.col(c).first()
            for c in df.columns
            if c not in (*PRICE_COLS, "timestamp", "volume", "row", "_implausible")
        ),
    )
    return agg.select(df.columns)


def _repair_ohlc(df: pl.DataFrame, mask: pl.Series) -> pl.DataFrame:
    """Widen high/low to the body, only on bars whose prices are all plausible (never to an outlier)."""
    fix = mask & ~df["_implausible"]
    return df.with_columns(
        pl.when(fix)
        .then(pl.max_horizontal("open", "high", "low", "close"))
        .otherwise(pl.col("high"))
        .alias("high"),
        pl.when(fix)
        .then(pl.min_horizontal("open", "high", "low", "close"))
        .otherwise(pl.col("low"))
        .alias("low"),
    )


SPIKE_SCALE_SPAN = 1380  # about one trading day of 1-minute bars
SPIKE_MIN_HISTORY = 20


def _robust_spikes(r: np.ndarray, z: float) -> np.ndarray:
    """Flag returns whose size exceeds ``z`` trailing standard deviations (causal: past bars only).

    The scale at bar t is an exponentially weighted mean of |r| over bars before t (span about one
    trading day), times 1.2533 (σ ≈ √(π/2)·E|r| for normal returns). Using only earlier bars means a
    later bar never decides whether an earlier one is a spike — dropping spikes cannot leak the future.
    The first ``SPIKE_MIN_HISTORY`` bars have too little history and are never flagged.
    """
    s = pl.Series(np.abs(r)).fill_nan(None)
    scale = (
        s.ewm_mean(span=SPIKE_SCALE_SPAN, min_samples=SPIKE_MIN_HISTORY, ignore_nulls=True).shift(1) * 1.2533
    ).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.abs(r) / scale
    return np.nan_to_num(score, nan=0.0, posinf=0.0) > z


def classify_gaps(df: pl.DataFrame, instrument: Instrument, unexpected_minutes: int) -> dict[str, Any]:
    """Count steps longer than one minute (and rolls) by kind: weekend, daily_break, holiday, intra_session,
    unexpected, roll."""
    minute = 60_000_000_000
    ts = df["timestamp"].dt.epoch("ns").to_numpy()
    day = df["trading_day"].to_numpy().astype("datetime64[D]")
    s_open = df["session_open"].dt.epoch("ns").to_numpy()
    s_close = df["session_close"].dt.epoch("ns").to_numpy()
    step = np.diff(ts)
    roll = segment_breaks(bar_segments(df), df.height)
    gap = np.flatnonzero((step > minute) | roll[1:])
    kinds = np.empty(len(gap), dtype=object)
    if instrument.session.kind == "continuous":
        same = np.ones(len(gap), dtype=bool)
    else:
        same = day[gap] == day[gap + 1]
    long = step[gap] > unexpected_minutes * minute
    kinds[same & ~long] = "intra_session"
    kinds[same & long] = "unexpected"
    cross = np.flatnonzero(~same)
    if len(cross):
        g = gap[cross]
        d0, d1 = day[g], day[g + 1]
        bdays = np.busday_count(d0, d1)  # weekdays between the two trading days
        weekday0 = (d0.astype("datetime64[D]").view("int64") - 4) % 7  # 0 = Monday
        missing_close = s_close[g] - ts[g]
        missing_open = (ts[g + 1] - minute) - s_open[g + 1]
        early = _early_close_days(instrument, d0)
        k = np.where(bdays > 1, "holiday", np.where(weekday0 == 4, "weekend", "daily_break")).astype(object)
        k[early & (k == "daily_break")] = "holiday"
        # A whole open exchange day is missing: an outage in the data, not a holiday.
        k[_skips_calendar_day(instrument, d0, d1)] = "unexpected"
        k[(np.maximum(missing_close, missing_open) > unexpected_minutes * minute) & (k == "daily_break")] = (
            "unexpected"
        )
        kinds[cross] = k
    kinds[roll[gap + 1]] = "roll"  # a contract roll (data.rolls) is a break of its own kind
    out: dict[str, Any] = {
        "count": len(gap),
        "largest_minutes": float(step[gap].max() / minute) if len(gap) else 0.0,
    }
    by_kind = {
        k: int((kinds == k).sum())
        for k in ("weekend", "daily_break", "holiday", "intra_session", "unexpected")
    } | ({"roll": int(roll.sum())} if roll.any() else {})  # stitched series only
    out["by_kind"] = by_kind
    if len(gap):
        worst = gap[np.argmax(step[gap])]
        out["largest_at"] = str(df["timestamp"][int(worst) + 1])
    return out


def _skips_calendar_day(instrument: Instrument, d0: np.ndarray, d1: np.ndarray) -> np.ndarray:
    """True where the exchange calendar has a trading day strictly between ``d0`` and ``d1``."""
    if not (instrument.calendar and instrument.session.kind == "exchange") or len(d0) == 0:
        return np.zeros(len(d0), dtype=bool)
    table = build_session_table(instrument, np.arange(d0.min(), d1.max() + 1))
    cal = table.trading_day[table.is_calendar_day]
    return (np.searchsorted(cal, d1, "left") - np.searchsorted(cal, d0, "right")) > 0


def _early_close_days(instrument: Instrument, days: np.ndarray) -> np.ndarray:
    if not (instrument.calendar and instrument.session.kind == "exchange") or len(days) == 0:
        return np.zeros(len(days), dtype=bool)
    uniq = np.unique(days)
    table = build_session_table(instrument, uniq)
    early = dict(zip(table.trading_day.tolist(), table.early_close.tolist(), strict=True))
    return np.array([early.get(d, False) for d in days.tolist()], dtype=bool)
