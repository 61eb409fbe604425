"""No look-ahead: changing 1-minute bars after t changes no ladder bar, and no as-of value, stamped at or before t.

A ladder bar stamped ``T`` holds only minutes closing at or before ``T``; so perturbing, deleting or
truncating minutes after ``t`` must leave every bar with ``timestamp <= t`` — and every value that
``asof_align`` attaches to a decision timestamp ``<= t`` — exactly as it was.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlfactory.data.align import asof_align
from mlfactory.data.instruments import get_instrument
from mlfactory.data.policies import ValidationPolicies
from mlfactory.data.resample import build_ladder
from mlfactory.data.sessions import attach_sessions
from mlfactory.data.synthetic import generate_bars
from mlfactory.data.validate import validate_bars
from mlfactory.timeframes import LADDER

MES = get_instrument("MES")
# Thursday 2024-03-07 on: daily breaks, a weekend and the spring DST change; minutes missing at random.
RAW = generate_bars(4_500, start=date(2024, 3, 7), seed=21, outages_per_100k=60.0)
TS = RAW["timestamp"].dt.epoch("ns").to_numpy()
N = RAW.height
SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def ladder_of(raw: pl.DataFrame, partial: str) -> dict[str, pl.DataFrame]:
    return build_ladder(attach_sessions(raw, MES), LADDER, partial=partial)  # type: ignore[arg-type]


FULL = {p: ladder_of(RAW, p) for p in ("drop", "flag")}
DECISIONS = RAW["timestamp"]  # every 1-minute close is a decision timestamp


def _ns(t: int) -> pl.Expr:
    return pl.col("timestamp").dt.epoch("ns") <= t


def assert_past_unchanged(
    full: dict, other: dict, t: int, *, ignore_complete_after: int | None = None
) -> None:
    for tf in LADDER:
        a, b = full[tf].filter(_ns(t)), other[tf].filter(_ns(t))
        if ignore_complete_after is not None:
            # With the data cut at t, a bar stamped in (last kept minute, t] cannot be known complete.
            late = pl.col("timestamp").dt.epoch("ns") > ignore_complete_after
            a, b = (
                f.with_columns(pl.when(late).then(None).otherwise(pl.col("complete")).alias("complete"))
                for f in (a, b)
            )
        assert a.equals(b), f"{tf}: a bar stamped <= t changed"
        left = DECISIONS.filter(DECISIONS.dt.epoch("ns") <= t)
        cols = ["open", "high", "low", "close", "volume"]
        aligned_a = asof_align(left, full[tf], columns=cols, suffix=f"_{tf}")
        aligned_b = asof_align(left, other[tf], columns=cols, suffix=f"_{tf}")
        assert aligned_a.equals(aligned_b), f"{tf}: an as-of value at a decision <= t changed"


def perturb_after(raw: pl.DataFrame, t: int, seed: int, delete: bool) -> pl.DataFrame:
    """Scale prices and volumes of a random subset of the minutes after t; optionally delete some."""
    rng = np.random.default_rng(seed)
    later = raw["timestamp"].dt.epoch("ns").to_numpy() > t
    hit = later & (rng.random(raw.height) < 0.5)
    scale = pl.Series(np.where(hit, rng.uniform(0.5, 2.0, raw.height), 1.0))
    vol = pl.Series(np.where(hit, rng.integers(1, 10_000, raw.height), raw["volume"].to_numpy()))
    out = raw.with_columns(*(pl.col(c) * scale for c in ("open", "high", "low", "close")), volume=vol)
    if delete:
        out = out.filter(~pl.Series(later & (rng.random(raw.height) < 0.3)))
    return out


@SETTINGS
@given(i=st.integers(0, N - 2), offset_s=st.integers(0, 59), seed=st.integers(0, 2**32 - 1))
def test_perturbing_the_future_changes_no_past_bar(i: int, offset_s: int, seed: int) -> None:
    t = int(TS[i]) + offset_s * 10**9
    other = ladder_of(perturb_after(RAW, t, seed, delete=False), "drop")
    assert_past_unchanged(FULL["drop"], other, t)


@SETTINGS
@given(i=st.integers(0, N - 2), seed=st.integers(0, 2**32 - 1))
def test_deleting_future_minutes_changes_no_past_bar(i: int, seed: int) -> None:
    t = int(TS[i])
    other = ladder_of(perturb_after(RAW, t, seed, delete=True), "flag")
    assert_past_unchanged(FULL["flag"], other, t)


@SETTINGS
@given(i=st.integers(1, N - 2))
def test_truncating_at_a_bar_changes_no_past_bar(i: int) -> None:
    t = int(TS[i])
    for partial in ("drop", "flag"):
        assert_past_unchanged(FULL[partial], ladder_of(RAW.head(i + 1), partial), t)


@SETTINGS
@given(i=st.integers(1, N - 2), extra_min=st.integers(1, 90))
def test_truncating_between_bars_changes_only_completeness(i: int, extra_min: int) -> None:
    # t lies after the last kept minute: bars stamped in (TS[i], t] keep their values; only `complete` may change.
    t = int(TS[i]) + extra_min * 60 * 10**9
    cut = RAW.filter(pl.col("timestamp").dt.epoch("ns") <= t)
    last_kept = int(cut["timestamp"].dt.epoch("ns")[-1])
    assert_past_unchanged(FULL["flag"], ladder_of(cut, "flag"), t, ignore_complete_after=last_kept)


def _canonical(raw: pl.DataFrame, policies: ValidationPolicies) -> pl.DataFrame:
    rows = raw.with_columns(pl.int_range(1, raw.height + 1, dtype=pl.Int64).alias("row"))
    bars, _ = validate_bars(rows, path=Path("synthetic"), instrument=MES, policies=policies)
    return bars.drop("row")


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(i=st.integers(0, N - 2), seed=st.integers(0, 2**32 - 1))
def test_validation_with_default_policies_is_causal(i: int, seed: int) -> None:
    """The canonical store path (validate → ladder) with the default policies keeps the past intact."""
    t = int(TS[i])
    full = build_ladder(_canonical(RAW, ValidationPolicies()), LADDER)
    other = build_ladder(_canonical(perturb_after(RAW, t, seed, delete=False), ValidationPolicies()), LADDER)
    assert_past_unchanged(full, other, t)


def test_price_spike_drop_is_causal() -> None:
    policies = ValidationPolicies(price_spike="drop", spike_z=6.0)
    t = int(TS[N // 3])
    calm = perturb_after(RAW, t, seed=0, delete=False).with_columns(
        pl.when(pl.col("timestamp").dt.epoch("ns") > t)
        .then(pl.lit(RAW["close"][N // 3]))
        .otherwise(pl.col(c))
        .alias(c)
        for c in ("open", "high", "low", "close")
    )
    full = _canonical(RAW, policies)
    other = _canonical(calm, policies)  # flat future: tiny MAD → more past returns count as spikes
    past = _ns(t)
    assert full.filter(past).equals(other.filter(past))
