"""compute_features: output contract, warm-ups, fail-fast inputs, fitted state on training rows only."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from mlfactory.errors import ConfigError, DataError
from mlfactory.features import compute_features, feature_specs
from mlfactory.features.groups.fracdiff import ADF_PVALUE, D_GRID, THRESHOLD, WIDTH
from mlfactory.features.kernels import find_min_ffd_d


@pytest.fixture(scope="module")
def computed(mes, bars_1m, bars_15m):
    """{tf: (bars, features, fitted state)} on 1m and 15m, fitted on the first 70% of rows."""
    out = {}
    for tf, bars in (("1m", bars_1m), ("15m", bars_15m)):
        fit_end = bars["timestamp"][int(0.7 * bars.height)]
        frame, state = compute_features(bars, tf, mes, fit_end=fit_end)
        out[tf] = (bars, frame, state)
    return out


@pytest.mark.parametrize("tf", ["1m", "15m"])
def test_output_schema(computed, mes, tf):
    bars, frame, _ = computed[tf]
    specs = feature_specs(tf, mes)
    assert frame.columns == ["timestamp", *(s.name for s in specs), "warm"]
    assert frame["timestamp"].equals(bars["timestamp"])
    assert all(frame.schema[s.name] == pl.Float32 for s in specs)
    assert frame.schema["warm"] == pl.Boolean
    max_warm = max(s.warmup_bars for s in specs)
    assert frame.height > max_warm + 100, "test frame too short to exercise every warm-up"
    np.testing.assert_array_equal(frame["warm"].to_numpy(), np.arange(frame.height) >= max_warm)


@pytest.mark.parametrize("tf", ["1m", "15m"])
def test_every_column_finite_past_its_warmup_and_warmups_are_tight(computed, mes, tf):
    _, frame, _ = computed[tf]
    too_early = []
    for s in feature_specs(tf, mes):
        values = frame[s.name].to_numpy()
        assert not np.isinf(values).any(), s.name
        assert np.isfinite(values[s.warmup_bars :]).all(), f"{s.name}: NaN after its warm-up"
        assert np.isfinite(frame.filter(pl.col("warm"))[s.name].to_numpy()).all(), s.name
        # a declared warm-up longer than needed wastes rows: the bar just before must be undefined
        if s.warmup_bars > 0 and np.isfinite(values[s.warmup_bars - 1]):
            too_early.append(s.name)
    assert too_early == [], f"warm-up declared too long for {too_early}"


def test_features_are_not_degenerate(computed, mes):
    """Past warm-up every continuous feature varies (a constant column is a wiring bug)."""
    _, frame, _ = computed["1m"]
    warm = frame.filter(pl.col("warm"))
    # the month cannot change within two days of bars
    constant = [
        s.name for s in feature_specs("1m", mes) if warm[s.name].n_unique() == 1 and "month" not in s.name
    ]
    assert constant == []


def test_fitted_state_is_json_and_reused(computed, mes):
    bars, frame, state = computed["15m"]
    restored = json.loads(json.dumps(state))
    again, same_state = compute_features(bars, "15m", mes, fitted=restored)
    assert again.equals(frame)
    assert same_state == restored and same_state is not restored  # a copy: callers add keys to it


def test_reusing_a_fitted_state_leaves_it_unchanged(computed, mes, bars_1m_long, bars_15m, resample_to):
    """Inference passes the bundle's state: a feature frame built with it must not edit it (it once
    emptied ``mtf_skipped``, and the next batch call then joined the MTF timeframes training skipped)."""
    from mlfactory.features.store import build_feature_frame

    _, _, state = computed["15m"]
    fitted = json.loads(json.dumps({**state, "mtf_skipped": {"1h": "short history"}, "warmup_skipped": {}}))
    before = json.dumps(fitted, sort_keys=True)
    ladder = {"15m": bars_15m, "1h": resample_to(bars_1m_long, "1h")}
    frame, out = build_feature_frame(
        ladder, "15m", mes, mtf_timeframes=("1h",), mtf_names=["rsi_14"], fitted=fitted
    )
    assert json.dumps(fitted, sort_keys=True) == before
    assert out["mtf_skipped"] == {"1h": "short history"} and "rsi_14__1h" not in frame.columns
    entry = state["features"]["fracdiff_logclose"]
    assert entry["d"] in D_GRID and entry["width"] == WIDTH
    assert state["timeframe"] == "15m" and state["fit_end"].endswith("Z")


def test_fracdiff_order_uses_training_rows_only(mes, bars_15m):
    n_fit = int(0.7 * bars_15m.height)
    fit_end = bars_15m["timestamp"][n_fit - 1]
    _, state = compute_features(bars_15m, "15m", mes, fit_end=fit_end)
    # oracle: the kernel's search on exactly the training rows
    log_close = np.log(bars_15m["close"].to_numpy()[:n_fit])
    expected = find_min_ffd_d(log_close, D_GRID, adf_pvalue=ADF_PVALUE, threshold=THRESHOLD, max_width=WIDTH)
    assert state["features"]["fracdiff_logclose"]["d"] == expected.d
    assert state["features"]["fracdiff_logclose"]["n_fit_rows"] == n_fit
    # rows after fit_end can change arbitrarily (here: a strong trend) without moving d
    later = pl.arange(0, bars_15m.height, eager=True) >= n_fit
    trend = pl.when(later).then(1.0 + 0.01 * (pl.int_range(pl.len()) - n_fit)).otherwise(1.0)
    changed = bars_15m.with_columns(pl.col(c) * trend for c in ("open", "high", "low", "close"))
    _, state2 = compute_features(changed, "15m", mes, fit_end=fit_end)
    assert state2["features"]["fracdiff_logclose"] == state["features"]["fracdiff_logclose"]


def test_fracdiff_is_a_fixed_width_weighted_sum(computed):
    bars, frame, state = computed["15m"]
    from mlfactory.features.kernels import ffd_weights

    d = state["features"]["fracdiff_logclose"]["d"]
    w = ffd_weights(d, THRESHOLD, WIDTH)
    log_close = np.log(bars["close"].to_numpy())
    i = bars.height - 1
    window = log_close[i - len(w) + 1 : i + 1][::-1]
    assert frame["fracdiff_logclose"][i] == pytest.approx(float(w @ window), rel=1e-5)
    assert np.isnan(frame["fracdiff_logclose"][WIDTH - 2]) and np.isfinite(
        frame["fracdiff_logclose"][WIDTH - 1]
    )


def test_fit_arguments_fail_fast(mes, bars_15m, computed):
    _, _, state = computed["15m"]
    with pytest.raises(ConfigError, match="fit_end"):
        compute_features(bars_15m, "15m", mes)
    with pytest.raises(ConfigError, match="not both"):
        compute_features(bars_15m, "15m", mes, fit_end=bars_15m["timestamp"][300], fitted=state)
    with pytest.raises(ConfigError, match="timeframe"):
        compute_features(bars_15m, "5m", mes, fitted=state)
    with pytest.raises(DataError, match="training rows"):
        compute_features(bars_15m, "15m", mes, fit_end=bars_15m["timestamp"][20])
    naive = bars_15m["timestamp"][300].replace(tzinfo=None)
    with pytest.raises(ConfigError, match="timezone"):
        compute_features(bars_15m, "15m", mes, fit_end=naive)
    # features without fitted state need neither argument
    frame, st = compute_features(bars_15m, "15m", mes, names=["rsi_14"])
    assert frame.columns == ["timestamp", "rsi_14", "warm"] and st["features"] == {}


def test_bad_bars_fail_fast(mes, bars_15m):
    with pytest.raises(DataError, match="session_open"):
        compute_features(bars_15m.drop("session_open"), "15m", mes, names=["rsi_14"])
    with pytest.raises(DataError, match="strictly increasing"):
        compute_features(bars_15m.reverse(), "15m", mes, names=["rsi_14"])
    with pytest.raises(DataError, match="non-positive price"):
        compute_features(bars_15m.with_columns(pl.lit(0.0).alias("low")), "15m", mes, names=["rsi_14"])
    naive = bars_15m.with_columns(pl.col("timestamp").dt.replace_time_zone(None))
    with pytest.raises(DataError, match="timestamp"):
        compute_features(naive, "15m", mes, names=["rsi_14"])


def test_a_feature_that_cannot_be_computed_is_an_error_naming_it(mes, bars_15m):
    """Nothing ever traded: Amihud illiquidity is undefined everywhere — an error, not a dropped column."""
    no_volume = bars_15m.with_columns(pl.lit(0.0).alias("volume"))
    with pytest.raises(DataError, match=r"feature amihud_20 on 15m: NaN at row 20"):
        compute_features(no_volume, "15m", mes, names=["rsi_14", "amihud_20"])


def test_real_mes_sample_is_finite_past_warmup(mes, real_mes_path, resample_to):
    """The real MES file (skipped when absent): every 5m feature finite once warm."""
    raw = pl.read_parquet(real_mes_path)
    from mlfactory.data.sessions import attach_sessions

    bars = resample_to(attach_sessions(raw, mes), "5m")
    frame, state = compute_features(bars, "5m", mes, fit_end=bars["timestamp"][int(0.7 * bars.height)])
    warm = frame.filter(pl.col("warm"))
    assert warm.height > 0.9 * frame.height
    features = warm.drop("timestamp", "warm").to_numpy()
    assert np.isfinite(features).all()
    print(
        f"MES 5m: {frame.height} bars, {features.shape[1]} features, d = {state['features']['fracdiff_logclose']['d']}"
    )


def test_bars_with_some_zero_volume_still_compute(mes, make_session_bars):
    bars = make_session_bars(mes, 1500, 3)
    rng = np.random.default_rng(0)
    zero = pl.Series("volume", np.where(rng.random(bars.height) < 0.3, 0.0, bars["volume"].to_numpy()))
    frame, _ = compute_features(bars.with_columns(zero), "1m", mes, fit_end=bars["timestamp"][1000])
    assert np.isfinite(frame.filter(pl.col("warm")).drop("timestamp", "warm").to_numpy()).all()
