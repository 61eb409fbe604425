"""``pipeline run`` records the conventions its input was read with, resolved (never auto/null):
the layout read, the stamp applied and the timezone of naive timestamps — what a bundle copies."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from mlfactory.config import load_pipeline_config
from mlfactory.data.instruments import get_instrument
from mlfactory.pipeline import run_pipeline

SMALL = {"features": {"timeframes": ["5m"]}, "ladder": {"mtf_timeframes": ["15m"]}}


def _ninjatrader(bars: pl.DataFrame, path: Path) -> Path:
    """NinjaTrader "Last" layout (naive times, no header), stamped at the bar open."""
    bars.select(
        (pl.col("timestamp") - pl.duration(minutes=1)).dt.strftime("%Y%m%d %H%M%S"),
        "open", "high", "low", "close", pl.col("volume").cast(pl.Int64),
    ).write_csv(path, separator=";", include_header=False)  # fmt: skip
    return path


def test_the_manifest_records_the_resolved_conventions(tmp_path: Path, synthetic_bars: pl.DataFrame) -> None:
    nt = _ninjatrader(synthetic_bars, tmp_path / "export.Last.txt")
    cfg = load_pipeline_config(overrides={**SMALL, "data": {"stamp": "open", "timezone": "UTC"}})
    result = run_pipeline(nt, get_instrument("MES"), cfg, tmp_path / "run")
    assert result.manifest["config"]["data"]["format"] == "auto"
    assert result.manifest["conventions"] == {
        "symbol": "MES",
        "format": "ninjatrader",
        "stamp": "open",
        "timezone": "UTC",
    }
    parquet = tmp_path / "bars.parquet"
    synthetic_bars.write_parquet(parquet)
    default = run_pipeline(
        parquet, get_instrument("MES"), load_pipeline_config(overrides=SMALL), tmp_path / "p"
    )
    assert default.manifest["conventions"] == {  # the format's stamp and the instrument's timezone
        "symbol": "MES",
        "format": "generic",
        "stamp": "close",
        "timezone": "America/Chicago",
    }
    both = (
        pl.read_parquet(tmp_path / "run" / "data" / "bars_1m.parquet"),
        pl.read_parquet(tmp_path / "p" / "data" / "bars_1m.parquet"),
    )
    assert both[0]["timestamp"].to_list() == both[1]["timestamp"].to_list()  # open stamps → closes


def test_a_run_that_predates_conventions_reads_its_data_again(
    tmp_path: Path, synthetic_parquet: Path
) -> None:
    cfg = load_pipeline_config(overrides=SMALL)
    run_pipeline(synthetic_parquet, get_instrument("MES"), cfg, tmp_path / "run")
    path = tmp_path / "run" / "manifest.json"
    old = json.loads(path.read_text())
    recorded = old.pop("conventions")
    path.write_text(json.dumps(old))
    again = run_pipeline(synthetic_parquet, get_instrument("MES"), cfg, tmp_path / "run")
    assert "data" not in again.cached_stages and {"ladder", "features", "labels"} <= set(again.cached_stages)
    assert again.manifest["conventions"] == recorded
    cached = run_pipeline(synthetic_parquet, get_instrument("MES"), cfg, tmp_path / "run")
    assert "data" in cached.cached_stages and cached.manifest["conventions"] == recorded
