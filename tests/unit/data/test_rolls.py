"""Stitching per-contract bars: each roll rule and adjustment against a hand-computed example.

Two contracts, four trading days (Mon 2025-09-08 .. Thu 09-11), two bars a day at 14:00/14:01 UTC.
MESU5 closes at 100 + day, MESZ5 at 112 + day (always 12 points above).
Volumes per bar: U 100, 80, 50, 20; Z 10, 60, 90, 200  -> Z above U first on Wed 09-10.
Open interest: U 500, 400, 300, 200; Z 100, 450, 500, 600 -> Z above U first on Tue 09-09.
MESU5 expires on the third Friday, 2025-09-19; 8 business days before is Tue 09-09.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from mlfactory.cli.app import app
from mlfactory.config import load_pipeline_config
from mlfactory.data.instruments import get_instrument
from mlfactory.data.roll_files import load_contract_files
from mlfactory.data.rolls import Contract, parse_contract, stitch
from mlfactory.errors import ConfigError, DataError
from mlfactory.pipeline import load_and_validate

MES = get_instrument("MES")
U5, Z5 = Contract(2025, 9, "MES"), Contract(2025, 12, "MES")
DAYS = (8, 9, 10, 11)


def _contract_bars(base: float, volumes, oi) -> pl.DataFrame:
    rows = []
    for d, (day, v, o) in enumerate(zip(DAYS, volumes, oi, strict=True)):
        for minute in (0, 1):
            c = base + d
            rows.append(
                {
                    "timestamp": datetime(2025, 9, day, 14, minute, tzinfo=UTC),
                    "open": c,
                    "high": c + 1,
                    "low": c - 1,
                    "close": c,
                    "volume": float(v),
                    "open_interest": float(o),
                }
            )
    return pl.DataFrame(rows).with_columns(pl.col("timestamp").dt.cast_time_unit("ns"))


def _parts(with_oi: bool = True) -> dict[Contract, pl.DataFrame]:
    u = _contract_bars(100.0, (100, 80, 50, 20), (500, 400, 300, 200))
    z = _contract_bars(112.0, (10, 60, 90, 200), (100, 450, 500, 600))
    if not with_oi:
        u, z = u.drop("open_interest"), z.drop("open_interest")
    return {Z5: z, U5: u}


def _closes_by_day(bars: pl.DataFrame) -> list[tuple[int, str, float]]:
    last = bars.group_by(pl.col("timestamp").dt.day().alias("d"), maintain_order=True).last()
    return [(r["d"], r["contract"], round(r["close"], 6)) for r in last.iter_rows(named=True)]


def test_contract_names_are_parsed_from_file_names_and_codes():
    assert parse_contract("MESU5_1m.csv", "MES", 2025) == U5
    assert parse_contract("MES_09-25.Last.txt", "MES", 2025) == U5
    assert parse_contract("MES 12-25", "MES", 2025) == Z5
    assert parse_contract("mesz25.parquet", "MES", 2025) == Z5
    assert parse_contract("MESH6", "MES", 2025) == Contract(2026, 3, "MES")
    assert parse_contract("ESU5.csv", "MES", 2025) is None  # another root
    assert parse_contract("bars.csv", "MES", 2025) is None
    assert U5.reference_expiry().isoformat() == "2025-09-19"


def test_volume_rule_rolls_the_day_after_the_crossover_with_back_adjustment():
    res = stitch(_parts(), MES, rule="volume", adjust="back")
    (roll,) = res.rolls
    assert (roll.decided_day, roll.effective_day) == ("2025-09-10", "2025-09-11")
    assert (roll.from_contract, roll.to_contract) == ("MESU25", "MESZ25")
    assert (roll.from_close, roll.to_close, roll.price_gap) == (102.0, 114.0, 12.0)
    # back: U bars shifted by +12; Z unchanged -> a series with no jump at the roll
    assert _closes_by_day(res.bars) == [
        (8, "MESU25", 112.0),
        (9, "MESU25", 113.0),
        (10, "MESU25", 114.0),
        (11, "MESZ25", 115.0),
    ]
    assert res.bars["segment"].to_list() == [0] * 6 + [1] * 2
    assert res.bars.height == 8 and res.bars["timestamp"].is_sorted()
    assert roll.adjustment == {"kind": "back", "add_to_earlier": 12.0}


def test_open_interest_rule_uses_the_oi_crossover_and_ratio_adjustment():
    res = stitch(_parts(), MES, rule="open-interest", adjust="ratio")
    (roll,) = res.rolls
    assert (roll.decided_day, roll.effective_day) == ("2025-09-09", "2025-09-10")
    assert (roll.from_close, roll.to_close) == (101.0, 113.0)
    f = 113.0 / 101.0
    assert _closes_by_day(res.bars) == [
        (8, "MESU25", round(100.0 * f, 6)),
        (9, "MESU25", round(101.0 * f, 6)),
        (10, "MESZ25", 114.0),
        (11, "MESZ25", 115.0),
    ]
    assert res.bars.filter(pl.col("segment") == 0)["high"][0] == pytest.approx(101.0 * f)
    assert roll.adjustment["kind"] == "ratio" and roll.adjustment["multiply_earlier"] == pytest.approx(f)


def test_calendar_rule_rolls_n_business_days_before_the_third_friday_without_adjustment():
    res = stitch(_parts(), MES, rule="calendar", adjust="none", days_before_expiry=8)
    (roll,) = res.rolls
    assert roll.effective_day == "2025-09-09" and roll.decided_day is None
    assert roll.price_gap == 12.0  # U 100 -> Z 112 at Mon 14:01
    assert _closes_by_day(res.bars) == [
        (8, "MESU25", 100.0),
        (9, "MESZ25", 113.0),
        (10, "MESZ25", 114.0),
        (11, "MESZ25", 115.0),
    ]
    res6 = stitch(_parts(), MES, rule="calendar", adjust="none", days_before_expiry=6)
    assert res6.rolls[0].effective_day == "2025-09-11"


def test_rule_that_never_fires_rolls_when_the_front_data_ends():
    parts = _parts()
    parts[U5] = parts[U5].filter(pl.col("timestamp").dt.day() <= 9)
    parts[Z5] = parts[Z5].with_columns(pl.lit(1.0).alias("volume"))
    res = stitch(parts, MES, rule="volume", adjust="none")
    assert res.rolls[0].effective_day == "2025-09-10"
    assert res.rolls[0].reason == "front data ended"


def test_open_interest_rule_without_the_column_is_refused():
    with pytest.raises(DataError, match="open_interest column"):
        stitch(_parts(with_oi=False), MES, rule="open-interest")
    with pytest.raises(ConfigError, match="--roll"):
        stitch(_parts(), MES, rule="crossover")


def _write(path: Path, frame: pl.DataFrame) -> Path:
    frame.with_columns(pl.col("timestamp").dt.strftime("%Y-%m-%d %H:%M:%S")).write_csv(path)
    return path


def test_files_named_by_contract_and_a_contract_column_give_the_same_series(tmp_path):
    parts = _parts(with_oi=False)
    a = _write(tmp_path / "MESU5.csv", parts[U5])
    b = _write(tmp_path / "MES_12-25.csv", parts[Z5])
    from_names = stitch(load_contract_files([a, b], "MES", MES, timezone="UTC"), MES)
    mixed = pl.concat(
        [
            parts[U5].with_columns(pl.lit("MESU5").alias("contract")),
            parts[Z5].with_columns(pl.lit("MESZ5").alias("contract")),
        ]
    )
    c = _write(tmp_path / "mixed.csv", mixed)
    from_column = stitch(load_contract_files([c], "MES", MES, timezone="UTC"), MES)
    cols = ["timestamp", "open", "high", "low", "close", "volume", "contract", "segment"]
    assert from_names.bars.select(cols).equals(from_column.bars.select(cols))
    assert from_names.rolls[0].effective_day == "2025-09-11"


def test_unnamed_file_is_refused_with_the_naming_rule(tmp_path):
    p = _write(tmp_path / "bars.csv", _parts()[U5])
    with pytest.raises(DataError, match="names no MES contract"):
        load_contract_files([p], "MES", MES, timezone="UTC")


def test_cli_writes_the_series_and_the_rolls_sidecar(tmp_path):
    parts = _parts()
    a = _write(tmp_path / "MESU5.csv", parts[U5])
    b = _write(tmp_path / "MESZ5.csv", parts[Z5])
    out = tmp_path / "MES_cont.parquet"
    args = ["data", "stitch", str(a), str(b), "--symbol", "MES", "--roll", "open-interest"]
    res = CliRunner().invoke(app, [*args, "--adjust", "back", "--tz", "UTC", "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    sidecar = json.loads((tmp_path / "MES_cont.parquet.rolls.json").read_text())
    assert sidecar["rolls"] == summary["rolls"]
    (roll,) = sidecar["rolls"]
    assert (roll["date"], roll["from"], roll["to"], roll["price_gap"]) == (
        "2025-09-10",
        "MESU25",
        "MESZ25",
        12.0,
    )
    bars = pl.read_parquet(out)
    assert bars["close"].to_list()[:2] == [112.0, 112.0] and bars["segment"].max() == 1


def test_a_stitched_file_is_read_back_as_it_is_with_its_sidecar_rolls(tmp_path):
    parts = _parts(with_oi=False)
    a = _write(tmp_path / "MESU5.csv", parts[U5])
    b = _write(tmp_path / "MESZ5.csv", parts[Z5])
    out = tmp_path / "MES_cont.parquet"
    args = ["data", "stitch", str(a), str(b), "--symbol", "MES", "--tz", "UTC", "--out", str(out)]
    assert CliRunner().invoke(app, args).exit_code == 0
    cfg = load_pipeline_config(None, {"data": {"validation": {"out_of_session": "warn"}}})
    bars, report = load_and_validate(out, MES, cfg)
    stitched = pl.read_parquet(out)
    assert bars["close"].to_list() == stitched["close"].to_list()  # not adjusted a second time
    assert bars["segment"].to_list() == stitched["segment"].to_list()
    assert (
        report.rolls["rolls"] == json.loads((tmp_path / "MES_cont.parquet.rolls.json").read_text())["rolls"]
    )
    assert report.gaps["by_kind"]["roll"] == 1
