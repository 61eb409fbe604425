"""The data-input options of the commands that read bars: --format, --instruments, --symbol (required or
inferred from the file name), costs (--commission, --slippage-ticks, --no-costs), end to end through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from mlfactory.cli import app

RUNNER = CliRunner()
SMALL_CONFIG = "features:\n  timeframes: [5m]\nladder:\n  mtf_timeframes: [15m]\n"
CRYPTO = ("--tick-size", "1", "--point-value", "1", "--session", "crypto_24x7")


def run(*args: object) -> tuple[int, str, str]:
    result = RUNNER.invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout, " ".join(result.stderr.split())


def ok_json(*args: object) -> tuple[dict, str]:
    code, out, err = run(*args, "--json")
    assert code == 0, err
    return json.loads(out), err


def error(*args: object) -> str:
    code, out, err = run(*args)
    assert code == 2 and out == "" and err.startswith("error:"), (code, err)
    return err


def write_ninjatrader(bars: pl.DataFrame, path: Path) -> Path:
    """NinjaTrader "Last" export in UTC: yyyyMMdd HHmmss;open;high;low;close;volume, no header."""
    bars.select(
        pl.col("timestamp").dt.strftime("%Y%m%d %H%M%S"),
        "open",
        "high",
        "low",
        "close",
        pl.col("volume").cast(pl.Int64),
    ).write_csv(path, separator=";", include_header=False)
    return path


@pytest.fixture
def nt_file(tmp_path: Path, synthetic_bars: pl.DataFrame) -> Path:
    return write_ninjatrader(synthetic_bars, tmp_path / "export.Last.txt")


def test_symbol_is_required_never_silently_mes(nt_file: Path) -> None:
    msg = error("data", "validate", nt_file)
    assert "--symbol is required" in msg and "--instruments" in msg


def test_symbol_inferred_from_the_file_name_is_said(tmp_path: Path, nt_file: Path) -> None:
    named = nt_file.rename(tmp_path / "MES 03-24.Last.txt")
    report, err = ok_json("data", "validate", named, "--tz", "UTC")
    assert report["symbol"] == "MES"
    assert "symbol MES inferred from the file name" in err
    assert report["format"] == "ninjatrader" and "detected" in report["ingest"]
    assert "read as ninjatrader (detected)" in err


def test_format_option_and_the_report(nt_file: Path, synthetic_bars: pl.DataFrame) -> None:
    report, _ = ok_json(
        "data", "validate", nt_file, "--symbol", "MES", "--format", "ninjatrader", "--tz", "UTC"
    )
    assert report["format"] == "ninjatrader" and "from --format" in report["ingest"]
    assert report["rows_out"] == synthetic_bars.height
    assert report["counts"]["implausible_value"] == 0 and report["warnings"] == []
    assert "Sierra Chart" in error("data", "validate", nt_file, "--symbol", "MES", "--format", "sierra")
    assert "--format 'excel': unknown" in error(
        "data", "validate", nt_file, "--symbol", "MES", "--format", "excel"
    )


def test_own_symbol_without_costs_is_refused(nt_file: Path) -> None:
    msg = error("data", "validate", nt_file, "--symbol", "COIN", *CRYPTO)
    for hint in ("--commission", "--slippage-ticks", "--instruments", "--no-costs"):
        assert hint in msg
    report, _ = ok_json("data", "validate", nt_file, "--symbol", "COIN", *CRYPTO, "--no-costs")
    assert report["symbol"] == "COIN"
    costs = ("--commission", "1.5", "--slippage-ticks", "1")
    ok_json("data", "validate", nt_file, "--symbol", "COIN", *CRYPTO, *costs)
    assert "contradicts" in error(
        "data", "validate", nt_file, "--symbol", "COIN", *CRYPTO, *costs, "--no-costs"
    )


def test_instruments_file_on_the_command_line(tmp_path: Path, nt_file: Path) -> None:
    own = tmp_path / "mine.yaml"
    own.write_text("instruments:\n  TOY: {tick_size: 0.25, point_value: 5, session: cme_globex}\n")
    assert "--commission" in error("data", "validate", nt_file, "--symbol", "TOY", "--instruments", own)
    own.write_text(
        "instruments:\n  TOY: {tick_size: 0.25, point_value: 5, session: cme_globex, "
        "commission_per_side: 1, slippage_ticks: 1}\n"
    )
    report, _ = ok_json("data", "validate", nt_file, "--symbol", "TOY", "--instruments", own, "--tz", "UTC")
    assert report["symbol"] == "TOY"
    own.write_text("instruments:\n  TOY: {tick_size: zero}\n")
    assert "mine.yaml" in error("data", "validate", nt_file, "--symbol", "TOY", "--instruments", own)


def test_pipeline_run_reads_a_vendor_file_and_records_no_costs(tmp_path: Path, nt_file: Path) -> None:
    cfg = tmp_path / "small.yaml"
    cfg.write_text(SMALL_CONFIG)
    out = tmp_path / "run"
    args = ("pipeline", "run", "--data", nt_file, "--out", out, "--config", cfg, "--tz", "UTC")
    assert "--symbol is required" in error(*args)
    assert "--commission" in error(*args, "--symbol", "COIN", *CRYPTO)
    summary, err = ok_json(*args, "--symbol", "MES", "--format", "auto")
    assert "read as ninjatrader" in err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["data"]["format"] == "auto"
    assert manifest["validation"]["format"] == "ninjatrader"
    assert manifest["instrument"]["costs"] == "modelled"
    ok_json(*args, "--symbol", "COIN", *CRYPTO, "--no-costs", "--out", tmp_path / "free")
    free = json.loads((tmp_path / "free" / "manifest.json").read_text())
    assert free["instrument"]["costs"] == "none"
    assert summary["rows"] > 0


@pytest.mark.real_data
def test_real_mes_as_a_ninjatrader_export(tmp_path: Path, real_mes_path: Path) -> None:
    """The real MES sample came from a NinjaTrader "Last" export in UTC: written back in that layout,
    it is detected and reads to the same bars; the same bars stamped at the open get the --stamp hint;
    and two contracts joined (the second 40 points higher) give a probable roll, not a spike."""
    bars = pl.read_parquet(real_mes_path)
    nt = write_ninjatrader(bars, tmp_path / "MES 09-25.Last.txt")
    report, err = ok_json("data", "validate", nt, "--tz", "UTC")
    parquet, _ = ok_json("data", "validate", real_mes_path)
    assert "symbol MES inferred" in err and report["format"] == "ninjatrader"
    for key in ("rows_out", "first_timestamp", "last_timestamp", "counts", "gaps"):
        assert report[key] == parquet[key], key
    assert report["warnings"] == []
    early = write_ninjatrader(
        bars.with_columns(pl.col("timestamp") - pl.duration(minutes=1)), tmp_path / "o.txt"
    )
    opened, _ = ok_json("data", "validate", early, "--symbol", "MES", "--tz", "UTC")
    assert any("--stamp open" in w for w in opened["warnings"])
    roll_at = bars.height // 2
    shifted = bars.with_columns(
        pl.when(pl.int_range(pl.len()) >= roll_at).then(pl.col(c) + 40.0).otherwise(pl.col(c)).alias(c)
        for c in ("open", "high", "low", "close")
    )
    joined, _ = ok_json(
        "data", "validate", write_ninjatrader(shifted, tmp_path / "j.txt"), "-s", "MES", "--tz", "UTC"
    )
    assert joined["counts"]["probable_roll"] == 1
    assert joined["findings"]["probable_roll"]["first_row"] == roll_at + 1
    assert joined["counts"]["price_spike"] == parquet["counts"]["price_spike"]
    assert any("data stitch" in w for w in joined["warnings"])
