"""MTF columns: only closed higher bars, as-of each base timestamp; names and warm flags."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl
import pytest

from mlfactory.errors import ConfigError
from mlfactory.features import DEFAULT_MTF_FEATURES, compute_features, feature_specs, mtf_indicator_features
from mlfactory.timeframes import LADDER


@pytest.fixture(scope="module")
def five_and_fifteen(bars_1m_long, resample_to):
    return resample_to(bars_1m_long, "5m"), resample_to(bars_1m_long, "15m")


def test_default_subset_exists_on_every_ladder_timeframe(mes):
    for tf in LADDER:
        names = {s.name for s in feature_specs(tf, mes)}
        assert set(DEFAULT_MTF_FEATURES) <= names, tf


def test_values_come_from_the_latest_closed_higher_bar(mes, five_and_fifteen):
    base, higher = five_and_fifteen
    names = ["rsi_14", "natr_14", "dist_ema_20"]
    out = mtf_indicator_features(base["timestamp"], higher, "15m", mes, names)
    assert out.columns == ["timestamp", "rsi_14__15m", "natr_14__15m", "dist_ema_20__15m", "warm__15m"]
    assert out["timestamp"].equals(base["timestamp"])
    ref, _ = compute_features(higher, "15m", mes, names=names)
    higher_ts = ref["timestamp"].to_list()
    for row in range(0, base.height, 7):  # slow reference: scan for the last higher close <= t
        t = base["timestamp"][row]
        closed = [j for j, T in enumerate(higher_ts) if T <= t]
        for n in names:
            got = out[f"{n}__15m"][row]
            if not closed:
                assert np.isnan(got)
            else:
                np.testing.assert_equal(got, ref[n][closed[-1]])
        assert out["warm__15m"][row] == (bool(closed) and ref["warm"][closed[-1]])


def test_a_higher_bar_is_usable_at_its_close_stamp_not_before(mes, five_and_fifteen):
    base, higher = five_and_fifteen
    out = mtf_indicator_features(base["timestamp"], higher, "15m", mes, ["ret_log_1"])
    ref, _ = compute_features(higher, "15m", mes, names=["ret_log_1"])
    by_close = dict(zip(ref["timestamp"].to_list(), ref["ret_log_1"].to_list(), strict=True))
    closes = set(by_close)
    # a 15m bar closing at xx:15 whose predecessor closed at xx:00, with 5m rows at xx:10 and xx:15
    stamp = next(
        t
        for t in higher["timestamp"].to_list()[20:]
        if t.minute == 15 and t - timedelta(minutes=15) in closes
    )
    row = {t: i for i, t in enumerate(out["timestamp"].to_list())}
    at = out["ret_log_1__15m"][row[stamp]]
    before = out["ret_log_1__15m"][row[stamp - timedelta(minutes=5)]]
    assert at == by_close[stamp]
    assert before == by_close[stamp - timedelta(minutes=15)]
    assert before != at


def test_rows_before_the_first_closed_higher_bar_are_nan_and_not_warm(mes, five_and_fifteen):
    base, higher = five_and_fifteen
    out = mtf_indicator_features(base["timestamp"], higher, "15m", mes, ["rsi_14"])
    first = higher["timestamp"][0]
    early = out.filter(pl.col("timestamp") < first)
    assert early.height > 0
    assert early["rsi_14__15m"].is_nan().all() and not early["warm__15m"].any()
    assert out.schema["rsi_14__15m"] == pl.Float32


def test_bad_requests_fail_fast(mes, five_and_fifteen):
    base, higher = five_and_fifteen
    with pytest.raises(ConfigError, match="fitted"):
        mtf_indicator_features(base["timestamp"], higher, "15m", mes, ["fracdiff_logclose"])
    with pytest.raises(ConfigError, match="unknown feature"):
        mtf_indicator_features(base["timestamp"], higher, "15m", mes, ["rsi_99"])
    with pytest.raises(ConfigError, match="empty"):
        mtf_indicator_features(base["timestamp"], higher, "15m", mes, [])
    with pytest.raises(ConfigError, match="higher_tf"):
        mtf_indicator_features(base["timestamp"], higher, "13m", mes, ["rsi_14"])
