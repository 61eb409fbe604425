"""The registry: counts per timeframe, name and metadata hygiene, windows defined in time."""

from __future__ import annotations

import re

import numpy as np
import pytest
import talib

from mlfactory.data.instruments import get_instrument
from mlfactory.errors import ConfigError
from mlfactory.features import compute_features, feature_defs, feature_groups, feature_specs, max_warmup
from mlfactory.features.registry import MIN_FEATURES_PER_TIMEFRAME
from mlfactory.timeframes import ALL_TIMEFRAMES

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


@pytest.mark.parametrize("tf", ALL_TIMEFRAMES)
def test_at_least_150_features_per_timeframe(tf, mes):
    specs = feature_specs(tf, mes)
    assert len(specs) >= MIN_FEATURES_PER_TIMEFRAME >= 150
    assert {s.group for s in specs} == set(feature_groups())


@pytest.mark.parametrize("tf", ALL_TIMEFRAMES)
def test_spec_metadata_is_well_formed(tf, mes):
    specs = feature_specs(tf, mes)
    names = [s.name for s in specs]
    assert len(names) == len(set(names))
    for s in specs:
        assert NAME_RE.match(s.name), s.name
        assert "__" not in s.name, "double underscore is reserved for MTF columns"
        assert s.kind in ("raw", "engineered")
        assert s.timeframe == tf
        assert s.warmup_bars >= 0
        assert s.description and tf not in s.description.split(), s.description
    assert max_warmup(tf, mes) == max(s.warmup_bars for s in specs)


def test_both_kinds_and_a_fitted_feature_are_registered(mes):
    specs = feature_specs("5m", mes)
    assert {s.kind for s in specs} == {"raw", "engineered"}
    assert [s.name for s in specs if s.fitted] == ["fracdiff_logclose"]


def test_names_are_stable_across_intraday_timeframes(mes):
    """Bar-count features keep their name everywhere; time windows only drop out on coarse timeframes."""
    five = {s.name for s in feature_specs("5m", mes)}
    hour = {s.name for s in feature_specs("1h", mes)}
    assert {"rsi_14", "atr_1h", "ret_log_5", "macd_hist_12_26_9", "vwap_dist_session"} <= five
    assert hour <= five
    assert "atr_30m" in five and "atr_30m" not in hour  # 30 min is under one 1h bar


def test_time_windows_resolve_to_bars(mes):
    warm = {tf: {s.name: s.warmup_bars for s in feature_specs(tf, mes)} for tf in ("1m", "5m", "15m")}
    # talib.ATR(n) has lookback n: 60 bars on 1m, 12 on 5m, 4 on 15m
    assert (warm["1m"]["atr_1h"], warm["5m"]["atr_1h"], warm["15m"]["atr_1h"]) == (60, 12, 4)
    # one trading day on CME Globex is 23 h = 1380 min = 276 five-minute bars (rv needs one more)
    assert warm["5m"]["rv_1d"] == 276
    btc = get_instrument("BTC", tick_size=0.5, point_value=1.0, session="crypto_24x7")
    assert {s.name: s.warmup_bars for s in feature_specs("5m", btc)}["rv_1d"] == 288


def test_atr_1h_uses_12_bars_on_5m_and_4_on_15m(mes, bars_1m_long, resample_to):
    for tf, n in (("5m", 12), ("15m", 4)):
        bars = resample_to(bars_1m_long, tf)
        frame, _ = compute_features(bars, tf, mes, names=["atr_1h", "natr_1h"])
        h, lo, c = (bars[k].to_numpy() for k in ("high", "low", "close"))
        expected = talib.ATR(h, lo, c, timeperiod=n)
        np.testing.assert_allclose(
            frame["atr_1h"].to_numpy(), expected.astype(np.float32), rtol=1e-6, equal_nan=True
        )
        np.testing.assert_allclose(
            frame["natr_1h"].to_numpy(), (100 * expected / c).astype(np.float32), rtol=1e-6, equal_nan=True
        )


def test_unknown_feature_name_is_a_config_error(mes):
    with pytest.raises(ConfigError, match="no_such_feature"):
        feature_defs("5m", mes, ["rsi_14", "no_such_feature"])
    with pytest.raises(ConfigError, match="timeframe"):
        feature_specs("7m", mes)
