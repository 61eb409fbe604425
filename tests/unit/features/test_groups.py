"""Spot checks of individual features against TA-Lib or a hand calculation."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import talib

from mlfactory.data.sessions import attach_sessions
from mlfactory.features import compute_features


def _values(frame: pl.DataFrame, name: str) -> np.ndarray:
    return frame[name].to_numpy().astype(np.float64)


@pytest.fixture(scope="module")
def five(mes, bars_1m_long, resample_to):
    bars = resample_to(bars_1m_long, "5m")
    frame, _ = compute_features(bars, "5m", mes, fit_end=bars["timestamp"][1000])
    return bars, frame


def test_talib_oscillators_match(five):
    bars, frame = five
    h, lo, c, v = (bars[k].to_numpy() for k in ("high", "low", "close", "volume"))
    checks = {
        "rsi_14": talib.RSI(c, 14),
        "cci_20": talib.CCI(h, lo, c, 20),
        "willr_14": talib.WILLR(h, lo, c, 14),
        "adx_14": talib.ADX(h, lo, c, 14),
        "mfi_14": talib.MFI(h, lo, c, v, 14),
        "macd_hist_12_26_9": talib.MACD(c, 12, 26, 9)[2] / c,
        "stoch_d_14": talib.STOCH(h, lo, c, 14, 3, 0, 3, 0)[1],
        "ultosc_7_14_28": talib.ULTOSC(h, lo, c, 7, 14, 28),
    }
    for name, expected in checks.items():
        np.testing.assert_allclose(
            _values(frame, name), expected, rtol=2e-6, atol=1e-6, equal_nan=True, err_msg=name
        )


def test_returns_moving_averages_and_bands_by_hand(five):
    bars, frame = five
    c = bars["close"].to_numpy()
    i = bars.height - 1
    assert _values(frame, "ret_log_5")[i] == pytest.approx(np.log(c[i] / c[i - 5]), rel=1e-5)
    assert _values(frame, "ret_log_1h")[i] == pytest.approx(np.log(c[i] / c[i - 12]), rel=1e-5)
    sma = c[i - 19 : i + 1].mean()
    assert _values(frame, "dist_sma_20")[i] == pytest.approx(np.log(c[i] / sma), rel=1e-4, abs=1e-7)
    sd = c[i - 19 : i + 1].std(ddof=0)  # TA-Lib's Bollinger bands use the population sd
    assert _values(frame, "bb_pctb_20")[i] == pytest.approx((c[i] - (sma - 2 * sd)) / (4 * sd), rel=1e-4)
    assert _values(frame, "bb_width_20")[i] == pytest.approx(4 * sd / sma, rel=1e-4)


def test_realised_vol_is_annualised_with_the_real_session(five):
    bars, frame = five
    r = np.diff(np.log(bars["close"].to_numpy()))
    i = bars.height - 1
    bars_per_year = (1380 / 5) * 252  # 23-hour Globex day, 252 trading days
    expected = r[-12:].std(ddof=1) * np.sqrt(bars_per_year)
    assert _values(frame, "rv_1h")[i] == pytest.approx(expected, rel=1e-5)
    h, lo = bars["high"].to_numpy(), bars["low"].to_numpy()
    park = np.sqrt(np.mean(np.log(h[-12:] / lo[-12:]) ** 2) / (4 * np.log(2)) * bars_per_year)
    assert _values(frame, "parkinson_1h")[i] == pytest.approx(park, rel=1e-5)


def test_volume_imbalance_and_relative_volume_by_hand(five):
    bars, frame = five
    c, v = bars["close"].to_numpy(), bars["volume"].to_numpy()
    i = bars.height - 1
    sign = np.sign(np.diff(c))[-20:]
    assert _values(frame, "updown_vol_imb_20")[i] == pytest.approx(
        (sign * v[-20:]).sum() / v[-20:].sum(), rel=1e-5
    )
    assert _values(frame, "rvol_1h")[i] == pytest.approx(v[i] / v[-12:].mean(), rel=1e-5)


def test_rvol_tod_compares_with_the_same_minute_of_previous_sessions(five):
    bars, frame = five
    slot = (bars["timestamp"] - bars["session_open"]).dt.total_minutes().to_numpy()
    v = bars["volume"].to_numpy()
    i = bars.height - 1
    same = np.flatnonzero(slot[:i] == slot[i])[-5:]
    assert len(same) >= 2
    assert _values(frame, "rvol_tod")[i] == pytest.approx(v[i] / v[same].mean(), rel=1e-5)


def _bars_at(mes, stamps: list[str], close: list[float], volume: list[float]) -> pl.DataFrame:
    ts = pl.Series("timestamp", stamps).str.to_datetime(time_unit="ns").dt.replace_time_zone("UTC")
    c = np.asarray(close)
    frame = pl.DataFrame(
        {"timestamp": ts, "open": c, "high": c + 0.5, "low": c - 0.5, "close": c, "volume": volume}
    )
    return attach_sessions(frame, mes)


def test_session_vwap_resets_at_the_session_open_not_utc_midnight(mes):
    # Globex (CST, winter): a session closes 22:00 UTC, the next opens 23:00 UTC and spans UTC midnight.
    stamps = [
        "2024-01-09 21:59",
        "2024-01-09 22:00",
        "2024-01-09 23:01",
        "2024-01-09 23:59",
        "2024-01-10 00:00",
        "2024-01-10 00:01",
    ]
    close = [100.0, 102.0, 110.0, 111.0, 112.0, 113.0]
    volume = [10.0, 30.0, 5.0, 15.0, 20.0, 10.0]
    bars = _bars_at(mes, stamps, close, volume)
    assert bars["session_open"].n_unique() == 2
    frame, _ = compute_features(
        bars, "1m", mes, names=["vwap_dist_session", "minutes_since_open", "minutes_to_close"]
    )
    c, v = np.asarray(close), np.asarray(volume)  # typical price == close here
    vwap = np.concatenate(
        [np.cumsum(c[:2] * v[:2]) / np.cumsum(v[:2]), np.cumsum(c[2:] * v[2:]) / np.cumsum(v[2:])]
    )
    np.testing.assert_allclose(_values(frame, "vwap_dist_session"), np.log(c / vwap), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(_values(frame, "minutes_since_open"), [1379, 1380, 1, 59, 60, 61])
    np.testing.assert_array_equal(_values(frame, "minutes_to_close"), [1, 0, 1379, 1321, 1320, 1319])


def test_calendar_uses_exchange_time_trading_day_and_regional_hours(mes):
    stamps = [
        "2024-07-07 22:01",  # Sunday 17:01 Chicago: first bar of Monday's trading day
        "2024-07-08 01:00",  # 10:00 Tokyo
        "2024-07-08 08:00",  # 09:00 London
        "2024-07-08 14:00",  # 10:00 New York, 15:00 London
        "2024-07-08 20:30",  # 16:30 New York: US cash closed
    ]
    bars = _bars_at(mes, stamps, [100.0] * 5, [1.0] * 5)
    names = ["day_of_week", "tod_sin", "tod_cos", "session_asia", "session_europe", "session_us"]
    frame, _ = compute_features(bars, "1m", mes, names=names)
    np.testing.assert_array_equal(_values(frame, "day_of_week"), [0, 0, 0, 0, 0])
    np.testing.assert_array_equal(_values(frame, "session_asia"), [0, 1, 0, 0, 0])
    np.testing.assert_array_equal(_values(frame, "session_europe"), [0, 0, 1, 1, 0])
    np.testing.assert_array_equal(_values(frame, "session_us"), [0, 0, 0, 1, 0])
    chicago_minutes = np.array([17 * 60 + 1, 20 * 60, 3 * 60, 9 * 60, 15 * 60 + 30])  # CDT = UTC-5
    np.testing.assert_allclose(
        _values(frame, "tod_sin"), np.sin(2 * np.pi * chicago_minutes / 1440), atol=1e-6
    )
    np.testing.assert_allclose(
        _values(frame, "tod_cos"), np.cos(2 * np.pi * chicago_minutes / 1440), atol=1e-6
    )


def test_bar_shape_ratios_by_hand(mes):
    bars = _bars_at(mes, ["2024-01-09 15:00", "2024-01-09 15:01"], [100.0, 100.0], [1.0, 1.0]).with_columns(
        pl.Series("open", [100.0, 101.0]),
        pl.Series("high", [104.0, 101.0]),
        pl.Series("low", [99.0, 101.0]),
        pl.Series("close", [103.0, 101.0]),
    )
    names = ["body_ratio", "upper_wick_ratio", "lower_wick_ratio", "close_location", "gap_log"]
    frame, _ = compute_features(bars, "1m", mes, names=names)
    row = {n: _values(frame, n) for n in names}
    assert (row["body_ratio"][0], row["upper_wick_ratio"][0], row["lower_wick_ratio"][0]) == pytest.approx(
        (0.6, 0.2, 0.2)
    )
    assert row["close_location"][0] == pytest.approx(((103 - 99) - (104 - 103)) / 5)
    assert row["body_ratio"][1] == 0.0 and row["close_location"][1] == 0.0  # flat bar: 0, not NaN
    assert row["gap_log"][1] == pytest.approx(np.log(101 / 103), rel=1e-6)


def test_regime_features_match_the_kernels(five):
    from mlfactory.features import kernels

    bars, frame = five
    c = bars["close"].to_numpy()
    np.testing.assert_allclose(
        _values(frame, "vol_regime_20_250"), kernels.volatility_regime(c, 20, 250), equal_nan=True
    )
    np.testing.assert_allclose(
        _values(frame, "vol_regime_1h_1d"), kernels.volatility_regime(c, 12, 276), equal_nan=True
    )
    np.testing.assert_allclose(
        _values(frame, "hurst_128"), kernels.rolling_hurst(np.log(c), 128), rtol=1e-6, equal_nan=True
    )
