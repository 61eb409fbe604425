"""`pipeline run` on a file whose rows carry a contract column: stitched, rolls recorded, nothing crosses them.

Two contracts built from one generated series ``g``: MESH4 trades ``g`` up to two days after the roll
day ``D``, MESM4 trades ``g + 15`` from three days before it. MESH4's volume is 2×g's before ``D``
and 0.5×g's from ``D`` on, MESM4's is g's: the volume crossover is on ``D``, so the series switches
to MESM4 at the trading day after ``D``, and back-adjusting adds the 15-point gap to MESH4's bars —
the stitched closes are exactly ``g + 15``.
"""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import polars as pl
import pytest

from mlfactory.config import load_pipeline_config
from mlfactory.data.instruments import get_instrument
from mlfactory.data.sessions import trading_day_expr
from mlfactory.data.synthetic import generate_bars
from mlfactory.pipeline import run_pipeline

MES = get_instrument("MES")
PRICES = ("open", "high", "low", "close")


@pytest.fixture(scope="module")
def rolled_run(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("rolls")
    g = generate_bars(16_000, start=date(2024, 2, 5), seed=5).with_columns(trading_day_expr(MES).alias("day"))
    days = g["day"].unique().sort()
    d = days[7]
    front = g.filter(pl.col("day") <= days[9]).with_columns(
        pl.lit("MESH4").alias("contract"),
        (pl.col("volume") * pl.when(pl.col("day") < d).then(2.0).otherwise(0.5)).alias("volume"),
    )
    back = g.filter(pl.col("day") >= days[4]).with_columns(
        pl.lit("MESM4").alias("contract"), *(pl.col(c) + 15.0 for c in PRICES)
    )
    mixed = pl.concat([front, back]).drop("day")
    path = tmp / "MES_contracts.parquet"
    mixed.write_parquet(path)
    result = run_pipeline(path, MES, CONFIG, tmp / "run")
    return result, g, days[8], mixed


CONFIG = load_pipeline_config(
    overrides={"features": {"timeframes": ["5m", "15m"]}, "ladder": {"mtf_timeframes": ["30m", "1h"]}}
)


def test_the_contract_column_is_stitched_and_the_roll_recorded(rolled_run):
    result, _, effective, _ = rolled_run
    rolls = result.manifest["rolls"]
    assert rolls["roll_rule"] == "volume" and rolls["adjust"] == "back"
    (roll,) = rolls["rolls"]
    assert (roll["from"], roll["to"], roll["date"]) == ("MESH24", "MESM24", str(effective))
    assert roll["price_gap"] == pytest.approx(15.0)
    assert result.summary()["rolls"] == rolls["rolls"]
    on_disk = json.loads((result.run.root / "manifest.json").read_text())
    assert on_disk["rolls"]["rolls"][0]["date"] == str(effective)
    gaps = result.validation["gaps"]["by_kind"]
    assert gaps["roll"] == 1


def test_stitched_bars_are_the_back_adjusted_series_with_a_segment_marker(rolled_run):
    result, g, effective, _ = rolled_run
    bars = pl.read_parquet(result.run.bars_path("1m"))
    joined = bars.join(g.select("timestamp", pl.col("close").alias("g")), on="timestamp")
    assert joined.height == bars.height
    np.testing.assert_allclose(joined["close"].to_numpy(), joined["g"].to_numpy() + 15.0)
    first_new = bars.filter(pl.col("segment") == 1)["timestamp"][0]
    assert str(bars.filter(pl.col("segment") == 1)["trading_day"][0]) == str(effective)
    assert bars.filter(pl.col("timestamp") < first_new)["segment"].unique().to_list() == [0]
    for tf in ("5m", "15m"):
        ladder = pl.read_parquet(result.run.bars_path(tf))
        assert ladder.filter(pl.col("timestamp") < first_new)["segment"].unique().to_list() == [0]
        assert ladder.filter(pl.col("timestamp") > first_new)["segment"].unique().to_list() == [1]


def test_no_label_path_crosses_the_roll(rolled_run):
    result, _, _, _ = rolled_run
    bars = pl.read_parquet(result.run.bars_path("1m"))
    first_new = bars.filter(pl.col("segment") == 1)["timestamp"][0]
    for h in (5, 10, 15, 20):
        labels = pl.read_parquet(result.run.labels_path(h))
        before = labels.filter(pl.col("timestamp") < first_new)
        assert before.height > 100
        assert (before["t1"] < first_new).all()


def test_perturbing_bars_after_the_roll_leaves_everything_before_it_unchanged(rolled_run, tmp_path):
    result, _, _, mixed = rolled_run
    bars = pl.read_parquet(result.run.bars_path("1m"))
    first_new = bars.filter(pl.col("segment") == 1)["timestamp"][0]
    later = (pl.col("contract") == "MESM4") & (pl.col("timestamp") >= first_new)
    rng = np.random.default_rng(1)
    scale = pl.Series(rng.uniform(0.97, 1.03, mixed.height))
    perturbed = mixed.with_columns(
        *(pl.when(later).then(pl.col(c) * scale).otherwise(pl.col(c)).alias(c) for c in PRICES)
    ).with_columns(
        pl.max_horizontal(*PRICES).alias("high"),
        pl.min_horizontal(*PRICES).alias("low"),
        pl.when(later).then(pl.col("volume") * 3).otherwise(pl.col("volume")).alias("volume"),
    )
    path = tmp_path / "MES_contracts.parquet"
    perturbed.write_parquet(path)
    other = run_pipeline(path, MES, CONFIG, tmp_path / "run")
    assert other.manifest["rolls"]["rolls"] == result.manifest["rolls"]["rolls"]

    def before(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.filter(pl.col("timestamp") < first_new)

    for tf in ("1m", "5m", "15m"):
        a, b = (before(pl.read_parquet(r.run.bars_path(tf))) for r in (result, other))
        assert a.height > 0 and a.equals(b), tf
    for tf in ("5m", "15m"):
        a, b = (before(pl.read_parquet(r.run.features_path(tf))) for r in (result, other))
        assert a.equals(b), tf
    for h in (5, 20):
        a, b = (before(pl.read_parquet(r.run.labels_path(h))) for r in (result, other))
        assert a.height > 100
        assert a.select("timestamp", "label", "t1", "ret", "barrier").equals(
            b.select("timestamp", "label", "t1", "ret", "barrier")
        ), h
