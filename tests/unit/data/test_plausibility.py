"""Impossible values, sub-minute bars, open-stamped files and joined contracts, on generated bars."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from mlfactory.data.instruments import get_instrument
from mlfactory.data.plausibility import implausible_values
from mlfactory.data.policies import ValidationPolicies
from mlfactory.data.synthetic import generate_bars
from mlfactory.data.validate import validate_bars
from mlfactory.errors import DataError

MES = get_instrument("MES")
PRICES = ("open", "high", "low", "close")


@pytest.fixture(scope="module")
def bars() -> pl.DataFrame:
    raw = generate_bars(3_000, start=date(2024, 3, 5), seed=3, missing_minute_rate=0.0)
    raw = raw.select("timestamp", *PRICES, "volume").with_row_index("row", offset=1)
    return raw.with_columns(pl.col("row").cast(pl.Int64), pl.col("volume").cast(pl.Float64))


def _set(frame: pl.DataFrame, rows: list[int], column: str, value: float) -> pl.DataFrame:
    idx = pl.int_range(pl.len())
    return frame.with_columns(pl.when(idx.is_in(rows)).then(value).otherwise(pl.col(column)).alias(column))


def _validate(frame: pl.DataFrame, instrument=MES, **policies):
    return validate_bars(
        frame, path="bars.csv", instrument=instrument, policies=ValidationPolicies(**policies)
    )


def test_clean_generated_bars_are_plausible(bars: pl.DataFrame) -> None:
    mask, _ = implausible_values(bars, MES, 4.0, 10_000)
    assert not mask.any()
    _, report = _validate(bars)
    assert report.counts["implausible_value"] == 0 and report.counts["probable_roll"] == 0


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("open", 1e15),
        ("close", 4800.0 * 1e300),
        ("volume", float("inf")),
        ("high", float("inf")),
        ("low", 60.0),
    ],
)
def test_impossible_values_fail_naming_file_row_column_and_value(
    bars: pl.DataFrame, column: str, value: float
) -> None:
    bad = _set(bars, [700, 701], column, value)
    with pytest.raises(DataError) as info:
        _validate(bad)
    msg = str(info.value)
    assert msg.startswith("bars.csv: row 701 ")
    assert f"column {column!r}, value {value}" in msg
    assert "--policy implausible_value=drop" in msg


def test_a_whole_file_scaled_by_1e300_is_implausible(bars: pl.DataFrame) -> None:
    scaled = bars.with_columns(pl.col(c) * 1e300 for c in PRICES)
    with pytest.raises(DataError, match=r"row 1 .*implausible|row 1 .*plausible band"):
        _validate(scaled)


def test_band_scales_with_the_instrument() -> None:
    e6 = get_instrument("6E")
    raw = generate_bars(600, start=date(2024, 3, 5), seed=4, start_price=1.08, instrument=e6)
    raw = raw.select("timestamp", *PRICES, "volume").with_row_index("row", offset=1)
    assert not implausible_values(raw, e6, 4.0, 10_000)[0].any()
    assert implausible_values(_set(raw, [300], "close", 10.8), e6, 4.0, 10_000)[0].sum() == 1  # decimal slip
    assert not implausible_values(_set(raw, [300], "close", 1.6), e6, 4.0, 10_000)[0].any()
    cl = get_instrument("CL")  # negative prices allowed: -37 after 18 is a real print (April 2020)
    crude = raw.with_columns(pl.col(c) * 17 for c in PRICES)
    assert not implausible_values(_set(crude, [300], "low", -37.0), cl, 4.0, 10_000)[0].any()


def test_repair_never_propagates_an_outlier(bars: pl.DataFrame) -> None:
    bad = _set(bars, list(range(500, 510)), "open", 1e15)  # open above high: also OHLC-inconsistent
    clean, report = _validate(bad, implausible_value="warn", ohlc_inconsistent="repair")
    assert report.findings["implausible_value"].count == 10
    assert clean["high"].max() < 1e6  # high was not widened to the outlier
    assert clean.filter(pl.col("row").is_between(501, 510))["high"].equals(
        bars.filter(pl.col("row").is_between(501, 510))["high"]
    )
    dropped, report = _validate(bad, implausible_value="drop")
    assert dropped.height == bars.height - 10 and dropped["open"].max() < 1e6


def test_sub_minute_bars_are_reported(bars: pl.DataFrame) -> None:
    seconds = bars.with_columns(
        (pl.col("timestamp").first() + pl.duration(seconds=pl.int_range(pl.len()))).alias("timestamp")
    )
    with pytest.raises(DataError, match=r"row 2 .*column 'timestamp'.*shorter than 1 minute"):
        _validate(seconds)


def test_open_stamped_file_is_detected(bars: pl.DataFrame) -> None:
    opened = bars.with_columns(pl.col("timestamp") - pl.duration(minutes=1))
    _, report = _validate(opened)
    assert any("--stamp open" in w and "session open" in w for w in report.warnings)
    _, report = _validate(bars)
    assert not any("--stamp open" in w for w in report.warnings)


def test_joined_contracts_are_a_probable_roll_not_a_spike(bars: pl.DataFrame) -> None:
    jump = bars.with_columns(
        pl.when(pl.int_range(pl.len()) >= 1_500).then(pl.col(c) + 40.0).otherwise(pl.col(c)).alias(c)
        for c in PRICES
    )
    _, clean = _validate(bars)
    _, report = _validate(jump)
    assert report.findings["probable_roll"].count == 1
    assert report.findings["probable_roll"].first_row == 1_501
    assert report.findings["price_spike"].count == clean.findings["price_spike"].count
    assert any("mlfactory data stitch" in w and "row 1501" in w for w in report.warnings)
    with pytest.raises(DataError, match=r"row 1501 .*data stitch"):
        _validate(jump, probable_roll="fail")


def test_a_spike_that_reverts_stays_a_spike(bars: pl.DataFrame) -> None:
    level = float(bars["close"][1_499])
    spike = bars
    for c in PRICES:
        spike = _set(spike, [1_500], c, level * 1.05)
    _, report = _validate(spike)
    assert report.findings["price_spike"].count >= 1
    assert report.findings["probable_roll"].count == 0
    assert np.isfinite(spike["close"].to_numpy()).all()


def test_implausibility_is_causal(bars: pl.DataFrame) -> None:
    """Perturbing bars after t (outliers, scaling) never changes which bars up to t are implausible."""
    rng = np.random.default_rng(0)
    t = 1_000
    base, _ = implausible_values(bars, MES, 4.0, 10_000)
    for _ in range(5):
        later = np.arange(bars.height) > t
        scale = np.where(later & (rng.random(bars.height) < 0.3), rng.choice([1e-3, 0.1, 10.0, 1e6]), 1.0)
        other = bars.with_columns(pl.col(c) * pl.Series(scale) for c in PRICES)
        mask, _ = implausible_values(other, MES, 4.0, 10_000)
        assert mask[: t + 1].equals(base[: t + 1])
        assert mask[t + 1 :].any()


def test_a_file_of_another_market_or_timezone_is_flagged(bars: pl.DataFrame) -> None:
    shifted = bars.with_columns(pl.col("timestamp") + pl.duration(hours=6))  # local times read as UTC
    _, report = _validate(shifted)
    assert report.findings["out_of_session"].count > 0
    assert any("outside the MES session" in w and "--tz" in w for w in report.warnings)
    _, clean = _validate(bars)
    assert not any("outside the MES session" in w for w in clean.warnings)
