"""The `mlfactory` command for the data foundation: data validate, pipeline run, demo — end to end."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from mlfactory.cli import app
from mlfactory.data.policies import ALLOWED
from mlfactory.timeframes import LADDER

RUNNER = CliRunner()
MLFACTORY = Path(sys.executable).parent / "mlfactory"
SMALL_CONFIG = "features:\n  timeframes: [5m]\nladder:\n  mtf_timeframes: [15m]\n"


def invoke(*args: str) -> dict:
    """Run the command in-process; require success and exactly one JSON object on stdout."""
    result = RUNNER.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, f"{result.stderr}\n{result.exception!r}"
    return json.loads(result.stdout)


def invoke_error(*args: str) -> str:
    result = RUNNER.invoke(app, [str(a) for a in args])
    assert result.exit_code == 2, f"{result.exit_code}: {result.exception!r}"
    assert result.stdout == ""
    assert result.stderr.startswith("error:")
    return " ".join(result.stderr.split())  # rich wraps long lines


@pytest.fixture
def small_config(tmp_path: Path) -> Path:
    """Keeps the later stages (features, labels) light enough for a few days of bars."""
    path = tmp_path / "small.yaml"
    path.write_text(SMALL_CONFIG)
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def bad_csv(tmp_path: Path) -> Path:
    lines = ["Date,Time,Open,High,Low,Close,Vol"]
    for m in range(1, 31):
        lines.append(f"2024-01-09,09:{m:02d}:00,100,101,99,100.5,{10 + m}")
    lines[5] = "2024-01-09,09:05:00,100,99.5,99,100.5,0"  # high below the body, zero volume
    lines.append(lines[-1])  # a duplicate
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_validate_json_carries_every_count(bad_csv: Path) -> None:
    report = invoke("data", "validate", bad_csv, "--symbol", "MES", "--json")
    assert set(report["counts"]) == set(ALLOWED)
    assert report["counts"]["ohlc_inconsistent"] == 1
    assert report["counts"]["zero_volume"] == 1
    assert report["counts"]["duplicates"] == 1
    assert report["rows_in"] == 31 and report["rows_out"] == 30
    assert report["first_timestamp"] == "2024-01-09 15:01:00+00:00"  # 09:01 Chicago
    for key in ("count", "largest_minutes", "by_kind"):
        assert key in report["gaps"]
    assert report["findings"]["ohlc_inconsistent"]["first_row"] == 5


def test_validate_tz_and_stamp_options(bad_csv: Path) -> None:
    utc = invoke("data", "validate", bad_csv, "--symbol", "MES", "--json", "--tz", "UTC")
    assert utc["first_timestamp"] == "2024-01-09 09:01:00+00:00"
    opened = invoke("data", "validate", bad_csv, "--symbol", "MES", "--json", "--stamp", "open")
    assert opened["first_timestamp"] == "2024-01-09 15:02:00+00:00"
    assert "Mars/Base" in invoke_error("data", "validate", bad_csv, "--symbol", "MES", "--tz", "Mars/Base")


def test_validate_fail_policy_message(bad_csv: Path) -> None:
    msg = invoke_error("data", "validate", bad_csv, "--symbol", "MES", "--policy", "zero_volume=fail")
    assert str(bad_csv) in msg
    assert "row 5 " in msg and "column 'volume'" in msg
    assert "--policy zero_volume=drop" in msg
    assert "allowed" in invoke_error(
        "data", "validate", bad_csv, "--symbol", "MES", "--policy", "out_of_order=drop"
    )
    assert "KEY=VALUE" in invoke_error(
        "data", "validate", bad_csv, "--symbol", "MES", "--policy", "zero_volume"
    )


def test_validate_unknown_symbol(bad_csv: Path) -> None:
    msg = invoke_error("data", "validate", bad_csv, "--symbol", "ZZZ")
    assert "unknown symbol 'ZZZ'" in msg and "--tick-size" in msg
    args = ("--tick-size", "0.25", "--point-value", "5", "--session", "cme_globex")
    report = invoke("data", "validate", bad_csv, "--symbol", "ZZZ", "--json", *args, "--no-costs")
    assert report["symbol"] == "ZZZ"


def test_pipeline_run_writes_the_run_directory(
    tmp_path: Path, synthetic_parquet: Path, small_config: Path
) -> None:
    out = tmp_path / "run"
    args = ("--data", synthetic_parquet, "--symbol", "MES", "--out", out, "--config", small_config)
    summary = invoke("pipeline", "run", *args, "--json")
    assert summary["cached_stages"] == []
    assert summary["input_sha256"] == sha256(synthetic_parquet)
    for tf in ("1m", *LADDER):
        frame = pl.read_parquet(out / "data" / f"bars_{tf}.parquet")
        assert frame.schema["timestamp"] == pl.Datetime("ns", "UTC"), tf
        assert frame.height == summary["ladder_rows"][tf] > 0, tf
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["input"]["sha256"] == sha256(synthetic_parquet)
    assert manifest["config"]["ladder"]["base_timeframe"] == "5m"
    assert manifest["seed"] == manifest["config"]["seed"]
    assert manifest["versions"]["polars"] == pl.__version__
    assert {"data", "ladder"} <= set(manifest["stages"])
    assert all(s["seconds"] >= 0 for s in manifest["stages"].values())
    assert "5m" not in manifest["mtf_timeframes"]
    one = pl.read_parquet(out / "data" / "bars_1m.parquet")
    assert one.height == pl.read_parquet(synthetic_parquet).height


def test_rerun_is_cached_and_config_change_reruns_the_ladder(
    tmp_path: Path, synthetic_parquet: Path, small_config: Path
) -> None:
    out = tmp_path / "run"
    base = ("pipeline", "run", "--data", synthetic_parquet, "--symbol", "MES", "--out", out, "--json")
    invoke(*base, "--config", small_config)
    first = json.loads((out / "manifest.json").read_text())["stages"]
    again = invoke(*base, "--config", small_config)["cached_stages"]
    assert again[:2] == ["data", "ladder"]
    assert set(again) == set(first)  # every stage cached
    flag = tmp_path / "flag.yaml"
    flag.write_text(SMALL_CONFIG + "  partial_bars: flag\n")
    changed = invoke(*base, "--config", flag)
    assert changed["cached_stages"] == ["data"]
    stages = json.loads((out / "manifest.json").read_text())["stages"]
    assert stages["data"] == first["data"]
    assert stages["ladder"]["key"] != first["ladder"]["key"]
    assert not pl.read_parquet(out / "data" / "bars_5m.parquet")["complete"].all()
    # A data policy change reruns everything from the canonical store on.
    assert invoke(*base, "--config", flag, "--policy", "zero_volume=drop")["cached_stages"] == []


def test_pipeline_is_deterministic(tmp_path: Path, synthetic_parquet: Path, small_config: Path) -> None:
    for name in ("a", "b"):
        out = tmp_path / name
        invoke(
            "pipeline",
            "run",
            "--data",
            synthetic_parquet,
            "--symbol",
            "MES",
            "--out",
            out,
            "--config",
            small_config,
            "--json",
        )
    files = sorted(p.name for p in (tmp_path / "a" / "data").glob("*.parquet"))
    assert len(files) == 1 + len(LADDER)
    for name in files:
        assert sha256(tmp_path / "a" / "data" / name) == sha256(tmp_path / "b" / "data" / name), name


def test_pipeline_errors_are_one_paragraph(tmp_path: Path) -> None:
    msg = invoke_error(
        "pipeline", "run", "--data", tmp_path / "none.csv", "--symbol", "MES", "--out", tmp_path / "r"
    )
    assert "no such file" in msg
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("ladder:\n  mtf_timeframes: [5m]\n")
    csv = tmp_path / "x.csv"
    csv.write_text("timestamp,open,high,low,close,volume\n2024-01-09 09:01:00,1,1,1,1,1\n")
    msg = invoke_error(
        "pipeline", "run", "--data", csv, "--symbol", "MES", "--out", tmp_path / "r", "--config", cfg
    )
    assert "ladder.mtf_timeframes" in msg and str(cfg) in msg


def test_console_script_keeps_stdout_for_json(
    tmp_path: Path, synthetic_parquet: Path, small_config: Path
) -> None:
    if not MLFACTORY.is_file():
        pytest.skip(f"{MLFACTORY} not installed")
    args = [
        "pipeline",
        "run",
        "--data",
        str(synthetic_parquet),
        "--symbol",
        "MES",
        "--out",
        str(tmp_path / "r"),
        "--config",
        str(small_config),
    ]
    proc = subprocess.run([str(MLFACTORY), *args, "--json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert isinstance(json.loads(proc.stdout), dict)  # one JSON object, nothing else
    assert "ladder" in proc.stderr  # progress goes to stderr


def test_demo_quick(tmp_path: Path) -> None:
    summary = invoke("demo", "--quick", "--out", tmp_path / "demo", "--json")
    run = Path(summary["run"])
    assert run == tmp_path / "demo" / "run"
    assert (run / "manifest.json").is_file()
    for tf in ("1m", *LADDER):
        assert (run / "data" / f"bars_{tf}.parquet").is_file(), tf
    assert summary["rows"] > 25_000
    assert Path(summary["report"]).is_file() and Path(summary["report"]).stat().st_size > 100_000
    assert [m["model"] for m in summary["models"]] == ["lightgbm", "tcn", "ensemble standard"]
    assert (run / "ensembles" / "standard_h10" / "ensemble.json").is_file()
    assert summary["guard"]["kept"] in ("meta", "weighted_average", "best_base")


@pytest.mark.real_data
def test_real_mes_file_validates_and_resamples(
    tmp_path: Path, real_mes_path: Path, small_config: Path
) -> None:
    report = invoke("data", "validate", real_mes_path, "--json")
    assert report["rows_in"] == report["rows_out"] == 54_160
    assert report["gaps"]["count"] == 60
    assert report["gaps"]["by_kind"] == {
        "daily_break": 30,
        "weekend": 8,
        "holiday": 2,
        "intra_session": 20,
        "unexpected": 0,
    }
    for problem in ("duplicates", "missing_price", "ohlc_inconsistent", "non_positive_price", "zero_volume"):
        assert report["counts"][problem] == 0, problem
    assert (
        report["counts"]["out_of_session"] == 15
    )  # 12:01-12:15 CT on 2025-07-03, after the calendar's close
    args = ("--data", real_mes_path, "--symbol", "MES", "--out", tmp_path / "r", "--config", small_config)
    summary = invoke("pipeline", "run", *args, "--json")
    assert summary["ladder_rows"]["1m"] == 54_160
    daily = pl.read_parquet(tmp_path / "r" / "data" / "bars_1d.parquet")
    assert 38 <= daily.height <= 41  # 41 trade dates in the file, both ends partial and dropped
    assert daily["trading_day"].is_unique().all()
    five = pl.read_parquet(tmp_path / "r" / "data" / "bars_5m.parquet")
    assert five["volume"].sum() <= pl.read_parquet(real_mes_path)["volume"].sum()
    assert (five["n_minutes"] <= 5).all()
    # The bar cut at the early close (12:00 CT = 17:00 UTC) keeps its stamp despite the later prints.
    early_close = datetime(2025, 7, 3, 17, 0, tzinfo=UTC)
    for tf in LADDER[:-1]:
        bars = pl.read_parquet(tmp_path / "r" / "data" / f"bars_{tf}.parquet")
        assert early_close in bars["timestamp"].to_list(), tf
