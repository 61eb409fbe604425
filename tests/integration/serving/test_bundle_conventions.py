"""predict/monitor read new bars with the bundle's training conventions and refuse input contradicting them.

The issue's scenario: a feed stamped at the bar open, predicted without ``--stamp``, gave
probabilities off by up to 0.08 with exit code 0. Now it is refused; with ``--stamp open`` it gives
exactly the predictions of the same bars stamped at their close.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from mlfactory.cli import app
from mlfactory.errors import ConfigError
from mlfactory.models.base import PROBA_COLUMNS
from mlfactory.serving.bundle import Bundle, DataConventions
from mlfactory.serving.conventions import InputOptions, check_identity

RUNNER = CliRunner()
STREAM_BARS = 4_000


@pytest.fixture(scope="module")
def bundle(tabular_bundles: dict[str, Bundle]) -> Bundle:
    return tabular_bundles["meta"]


@pytest.fixture(scope="module")
def close_bars(small_run: Path) -> pl.DataFrame:
    """The run's input bars as written (UTC, stamped at the bar close)."""
    manifest = json.loads((small_run / "manifest.json").read_text())
    return pl.read_parquet(manifest["input"]["path"])


@pytest.fixture(scope="module")
def files(close_bars: pl.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("conventions")
    paths = {k: tmp / f"bars_{k}.parquet" for k in ("close", "open")}
    close_bars.write_parquet(paths["close"])
    close_bars.with_columns(pl.col("timestamp") - pl.duration(minutes=1)).write_parquet(paths["open"])
    paths["naive_chicago"] = tmp / "bars_naive.csv"
    close_bars.with_columns(
        pl.col("timestamp").dt.convert_time_zone("America/Chicago").dt.replace_time_zone(None)
    ).write_csv(paths["naive_chicago"], datetime_format="%Y-%m-%d %H:%M:%S")
    return paths


@pytest.fixture(scope="module")
def reference(bundle: Bundle, files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """``predict --json`` on the close-stamped UTC file: the summary and the predictions."""
    out = tmp_path_factory.mktemp("reference") / "preds.parquet"
    summary = _predict(bundle, files["close"], out)
    return {"summary": summary, "preds": pl.read_parquet(out)}


def _predict(bundle: Bundle, data: Path, out: Path, *args: str) -> dict:
    result = RUNNER.invoke(
        app, ["predict", "--bundle", str(bundle.directory), "--data", str(data), "--out", str(out), "--json", *args]
    )  # fmt: skip
    assert result.exit_code == 0, f"{result.stderr}\n{result.exception!r}"
    return json.loads(result.stdout)


def _refused(*args: object) -> str:
    result = RUNNER.invoke(app, [str(a) for a in args])
    assert result.exit_code == 2, f"{result.exit_code}: {result.exception!r}\n{result.stderr}"
    assert result.stdout == "" and "Traceback" not in result.stderr
    return " ".join(result.stderr.split())  # rich wraps long lines


def _assert_same_predictions(a: pl.DataFrame, b: pl.DataFrame, min_rows: int = 100) -> None:
    assert a["timestamp"].to_list() == b["timestamp"].to_list() and a.height >= min_rows
    np.testing.assert_allclose(
        a.select(PROBA_COLUMNS).to_numpy(), b.select(PROBA_COLUMNS).to_numpy(), rtol=0, atol=1e-9
    )


def test_the_bundle_records_the_conventions_its_training_bars_were_read_with(
    bundle: Bundle, small_run: Path, reference: dict
) -> None:
    manifest = json.loads((small_run / "manifest.json").read_text())
    expected = DataConventions(symbol="MES", format="generic", stamp="close", timezone="America/Chicago")
    assert manifest["conventions"] == expected.model_dump()
    assert bundle.spec.conventions == expected
    assert (
        json.loads((bundle.directory / "ensemble.json").read_text())["conventions"] == expected.model_dump()
    )
    assert reference["summary"]["conventions"] == expected.model_dump()  # predict --json states them


@pytest.mark.parametrize("stream", [False, True], ids=["batch", "stream"])
def test_bars_stamped_at_their_open_are_refused_without_stamp_open(
    bundle: Bundle, files: dict[str, Path], tmp_path: Path, stream: bool
) -> None:
    args = ["predict", "--bundle", bundle.directory, "--data", files["open"], "--out", tmp_path / "p.parquet"]
    message = _refused(*args, *(["--stream"] if stream else []))
    assert str(files["open"]) in message and "--stamp open" in message
    assert "stamped at their close" in message
    assert not (tmp_path / "p.parquet").exists()


def test_monitor_refuses_bars_stamped_at_their_open_too(bundle: Bundle, files: dict[str, Path]) -> None:
    message = _refused("monitor", "--bundle", bundle.directory, "--data", files["open"], "--json")
    assert "--stamp open" in message


def test_bars_stamped_at_their_open_with_stamp_open_give_the_close_stamped_predictions(
    bundle: Bundle, files: dict[str, Path], reference: dict, tmp_path: Path
) -> None:
    summary = _predict(bundle, files["open"], tmp_path / "p.parquet", "--stamp", "open")
    assert summary["conventions"]["stamp"] == "open"
    _assert_same_predictions(pl.read_parquet(tmp_path / "p.parquet"), reference["preds"])
    # the bug, when the user insists the open stamps are closes: every bar a minute early
    _predict(bundle, files["open"], tmp_path / "shifted.parquet", "--stamp", "close")
    shifted = pl.read_parquet(tmp_path / "shifted.parquet").join(reference["preds"], on="timestamp")
    assert shifted.height > 100
    assert np.abs(shifted["p_long"].to_numpy() - shifted["p_long_right"].to_numpy()).max() > 1e-6


def test_naive_timestamps_are_read_in_the_bundles_timezone(
    bundle: Bundle, files: dict[str, Path], reference: dict, tmp_path: Path
) -> None:
    summary = _predict(bundle, files["naive_chicago"], tmp_path / "p.parquet")
    assert summary["conventions"]["timezone"] == "America/Chicago"
    _assert_same_predictions(pl.read_parquet(tmp_path / "p.parquet"), reference["preds"])


def test_another_symbol_is_refused(bundle: Bundle, files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "p.parquet"
    message = _refused("predict", "--bundle", bundle.directory, "--data", files["close"], "--out", out,
                       "--symbol", "ES")  # fmt: skip
    assert "--symbol ES" in message and "trained on MES" in message
    named = tmp_path / "ES_1m.parquet"
    named.write_bytes(files["close"].read_bytes())
    message = _refused("predict", "--bundle", bundle.directory, "--data", named, "--out", out)
    assert str(named) in message and "file name says ES" in message and "--symbol MES" in message
    check_identity(bundle, InputOptions(symbol="mes"), named)  # --symbol overrides the file name


def test_an_instruments_file_contradicting_the_bundles_instrument_is_refused(
    bundle: Bundle, files: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "p.parquet"
    tick = tmp_path / "tick.yaml"
    tick.write_text("instruments:\n  MES: {tick_size: 0.5}\n")
    message = _refused("predict", "--bundle", bundle.directory, "--data", files["close"], "--out", out,
                       "--instruments", tick)  # fmt: skip
    assert str(tick) in message and "tick_size 0.5" in message and "retrain" in message
    hours = tmp_path / "hours.yaml"
    hours.write_text(
        "sessions:\n  day: {kind: exchange, timezone: America/Chicago, open: '08:30', close: '15:00'}\n"
        "instruments:\n  MES: {session: day}\n"
    )
    with pytest.raises(ConfigError, match="session day"):
        check_identity(bundle, InputOptions(instruments=hours))
    same = tmp_path / "same.yaml"  # restating the bundle's definition, or defining other contracts, is fine
    same.write_text("instruments:\n  MES: {tick_size: 0.25, point_value: 5}\n  XYZ: {tick_size: 1, point_value: 1, session: cme_globex}\n")  # fmt: skip
    check_identity(bundle, InputOptions(instruments=same))


def test_a_detected_layout_with_another_stamp_convention_is_refused_without_stamp(
    bundle: Bundle, close_bars: pl.DataFrame, tmp_path: Path
) -> None:
    sierra = tmp_path / "bars_sierra.csv"
    close_bars.head(50).select(
        pl.col("timestamp").dt.strftime("%Y/%m/%d").alias("Date"),
        pl.col("timestamp").dt.strftime("%H:%M:%S").alias(" Time"),
        pl.col("open").alias(" Open"), pl.col("high").alias(" High"), pl.col("low").alias(" Low"),
        pl.col("close").alias(" Last"), pl.col("volume").alias(" Volume"),
        pl.lit(1).alias(" NumberOfTrades"), pl.lit(0).alias(" BidVolume"), pl.lit(0).alias(" AskVolume"),
    ).write_csv(sierra)  # fmt: skip
    message = _refused("predict", "--bundle", bundle.directory, "--data", sierra, "--out", tmp_path / "p.csv")
    assert str(sierra) in message and "sierra" in message and "--stamp open or --stamp close" in message


def test_options_that_cannot_apply_are_refused(
    bundle: Bundle, files: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "p.parquet"
    message = _refused("predict", "--bundle", bundle.directory, "--data", files["close"], "--out", out,
                       "--stamp", "middle")  # fmt: skip
    assert "--stamp 'middle'" in message
    message = _refused(
        "serve", "--bundle", bundle.directory, "--state", tmp_path / "state", "--stamp", "open"
    )
    assert "--warmup file" in message
    message = _refused("serve", "--bundle", bundle.directory, "--state", tmp_path / "state", "--symbol", "NQ")
    assert "--symbol NQ" in message


def test_the_stream_replay_reads_the_file_with_the_options_too(
    bundle: Bundle, close_bars: pl.DataFrame, tmp_path: Path
) -> None:
    """``predict --stream --stamp open`` on bars stamped at their open equals batch ``predict`` on them
    (a short file: the replay goes minute by minute)."""
    short = tmp_path / "short_open.parquet"
    close_bars.head(STREAM_BARS).with_columns(pl.col("timestamp") - pl.duration(minutes=1)).write_parquet(
        short
    )
    summary = _predict(bundle, short, tmp_path / "s.parquet", "--stream", "--stamp", "open")
    assert summary["mode"] == "stream" and summary["conventions"]["stamp"] == "open"
    _predict(bundle, short, tmp_path / "b.parquet", "--stamp", "open")
    streamed, batch = pl.read_parquet(tmp_path / "s.parquet"), pl.read_parquet(tmp_path / "b.parquet")
    assert streamed.height > 0
    _assert_same_predictions(streamed, batch, min_rows=1)
