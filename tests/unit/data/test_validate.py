"""Validation: every problem class triggers on a crafted bad file and every allowed policy is honoured."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from mlfactory.config import load_pipeline_config
from mlfactory.data.instruments import get_instrument
from mlfactory.data.policies import ALLOWED, ValidationPolicies
from mlfactory.errors import ConfigError, DataError
from mlfactory.pipeline import load_and_validate

N = 40
PROBLEMS = tuple(ALLOWED)


def clean_rows() -> list[dict]:
    """N in-session minutes (Tue 2024-01-09 09:01 CT on), a small random walk with consistent OHLC."""
    rng = np.random.default_rng(5)
    close = 4800 + np.cumsum(rng.integers(-2, 3, N)) * 0.25
    open_ = np.concatenate(([4800.0], close[:-1]))
    rows = []
    for i in range(N):
        hh, mm = divmod(9 * 60 + 1 + i, 60)
        rows.append(
            {
                "timestamp": f"2024-01-09 {hh:02d}:{mm:02d}:00",
                "open": float(open_[i]),
                "high": float(max(open_[i], close[i]) + 0.5),
                "low": float(min(open_[i], close[i]) - 0.5),
                "close": float(close[i]),
                "volume": 100 + i,
            }
        )
    return rows


def _inject_missing_price(rows: list[dict]) -> None:
    rows[4]["close"] = None


def _inject_non_positive(rows: list[dict]) -> None:
    rows[6]["low"] = 0.0


def _inject_negative_volume(rows: list[dict]) -> None:
    rows[3]["volume"] = -5


def _inject_missing_volume(rows: list[dict]) -> None:
    rows[5]["volume"] = None


def _inject_out_of_order(rows: list[dict]) -> None:
    rows[9], rows[10] = rows[10], rows[9]


def _inject_duplicate(rows: list[dict]) -> None:
    rows[11] = dict(rows[11], timestamp=rows[10]["timestamp"])


def _inject_ohlc(rows: list[dict]) -> None:
    rows[7]["high"] = max(rows[7]["open"], rows[7]["close"]) - 0.25


def _inject_zero_volume(rows: list[dict]) -> None:
    rows[8]["volume"] = 0


def _inject_out_of_session(rows: list[dict]) -> None:
    # 16:30 CT sits in the daily maintenance break (16:00-17:00).
    rows.append(dict(rows[-1], timestamp="2024-01-09 16:30:00"))


def _inject_spike(rows: list[dict]) -> None:
    r = rows[24]
    jump = r["close"] * 1.5
    rows[24] = dict(r, open=jump, high=jump, low=jump, close=jump)


def _inject_implausible(rows: list[dict]) -> None:
    rows[14]["open"] = 1e15


def _inject_sub_minute(rows: list[dict]) -> None:
    rows[20]["timestamp"] = rows[20]["timestamp"][:-2] + "30"


def _inject_roll(rows: list[dict]) -> None:
    for r in rows[24:]:
        r.update({c: r[c] + 40.0 for c in ("open", "high", "low", "close")})


# problem -> (injector, 1-based source row of the first offence, column named in the message)
CASES: dict[str, tuple[Callable[[list[dict]], None], int, str]] = {
    "missing_price": (_inject_missing_price, 5, "close"),
    "non_positive_price": (_inject_non_positive, 7, "low"),
    "negative_volume": (_inject_negative_volume, 4, "volume"),
    "missing_volume": (_inject_missing_volume, 6, "volume"),
    "out_of_order": (_inject_out_of_order, 11, "timestamp"),
    "duplicates": (_inject_duplicate, 12, "timestamp"),
    "ohlc_inconsistent": (_inject_ohlc, 8, "high"),
    "zero_volume": (_inject_zero_volume, 9, "volume"),
    "out_of_session": (_inject_out_of_session, N + 1, "timestamp"),
    "price_spike": (_inject_spike, 25, "close"),
    "implausible_value": (_inject_implausible, 15, "open"),
    "bar_spacing": (_inject_sub_minute, 21, "timestamp"),
    "probable_roll": (_inject_roll, 25, "close"),
}


def write_bars(tmp_path: Path, rows: list[dict], name: str = "bars.csv") -> Path:
    path = tmp_path / name
    schema = {"timestamp": pl.String, **dict.fromkeys(("open", "high", "low", "close"), pl.Float64)}
    pl.DataFrame(rows, schema={**schema, "volume": pl.Int64}).write_csv(path)
    return path


def run_validate(path: Path, symbol: str = "MES", **policies: str):
    config = load_pipeline_config(overrides={"data": {"validation": policies}} if policies else None)
    return load_and_validate(path, get_instrument(symbol), config)


def bad_file(tmp_path: Path, problem: str) -> Path:
    rows = clean_rows()
    CASES[problem][0](rows)
    return write_bars(tmp_path, rows)


def test_clean_file_has_no_findings(tmp_path: Path) -> None:
    bars, report = run_validate(write_bars(tmp_path, clean_rows()))
    assert set(report.counts) == set(PROBLEMS)
    assert all(v == 0 for v in report.counts.values())
    assert report.rows_in == report.rows_out == bars.height == N
    assert report.gaps["count"] == 0


def test_every_problem_class_has_a_case() -> None:
    assert set(CASES) == set(PROBLEMS)


@pytest.mark.parametrize("problem", PROBLEMS)
def test_each_problem_triggers_and_fail_names_file_row_column_and_option(
    tmp_path: Path, problem: str
) -> None:
    _, row, column = CASES[problem]
    path = bad_file(tmp_path, problem)
    with pytest.raises(DataError) as info:
        run_validate(path, **{problem: "fail"})
    msg = str(info.value)
    assert str(path) in msg
    assert f"row {row} " in msg
    assert f"column {column!r}" in msg
    assert f"--policy {problem}=" in msg
    assert f"data.validation.{problem}" in msg


@pytest.mark.parametrize("problem", [p for p in PROBLEMS if "drop" in ALLOWED[p]])
def test_drop_removes_the_offending_rows(tmp_path: Path, problem: str) -> None:
    _, row, _ = CASES[problem]
    bars, report = run_validate(bad_file(tmp_path, problem), **{problem: "drop"})
    finding = report.findings[problem]
    assert finding.count >= 1
    assert finding.first_row == row
    assert row not in bars["row"].to_list()
    assert report.rows_out == report.rows_in - finding.count == bars.height


@pytest.mark.parametrize("problem", [p for p in PROBLEMS if "warn" in ALLOWED[p]])
def test_warn_keeps_the_rows(tmp_path: Path, problem: str) -> None:
    _, row, _ = CASES[problem]
    bars, report = run_validate(bad_file(tmp_path, problem), **{problem: "warn"})
    assert report.findings[problem].count >= 1
    assert report.findings[problem].action.startswith("kept")
    assert row in bars["row"].to_list()
    assert report.rows_out == report.rows_in


@pytest.mark.parametrize("problem", PROBLEMS)
def test_disallowed_policies_are_rejected(problem: str) -> None:
    for policy in {"fail", "drop", "repair", "warn"} - set(ALLOWED[problem]):
        with pytest.raises(ConfigError, match=rf"{problem}.*{policy}"):
            load_pipeline_config(overrides={"data": {"validation": {problem: policy}}})


def _row(bars: pl.DataFrame, row: int) -> dict:
    return bars.filter(pl.col("row") == row).row(0, named=True)


@pytest.mark.parametrize(("problem", "row"), [("negative_volume", 4), ("missing_volume", 6)])
def test_repair_volume_sets_zero(tmp_path: Path, problem: str, row: int) -> None:
    bars, report = run_validate(bad_file(tmp_path, problem), **{problem: "repair"})
    assert report.findings[problem].count == 1
    assert _row(bars, row)["volume"] == 0.0
    assert bars.height == N
    assert report.findings["zero_volume"].count == 1  # the repaired bar is then a zero-volume bar


def test_repair_out_of_order_sorts(tmp_path: Path) -> None:
    bars, report = run_validate(bad_file(tmp_path, "out_of_order"), out_of_order="repair")
    assert report.findings["out_of_order"].count == 1
    assert bars["timestamp"].is_sorted()
    assert bars["row"].to_list()[9:11] == [11, 10]
    assert bars.height == N


def test_duplicates_drop_keeps_first_and_repair_merges(tmp_path: Path) -> None:
    rows = clean_rows()
    _inject_duplicate(rows)
    first, second = rows[10], rows[11]
    path = write_bars(tmp_path, rows)
    dropped, _ = run_validate(path, duplicates="drop")
    kept = _row(dropped, 11)
    assert (kept["open"], kept["close"], kept["volume"]) == (first["open"], first["close"], first["volume"])
    merged, report = run_validate(path, duplicates="repair")
    assert report.findings["duplicates"].count == 1
    assert merged.height == N - 1
    assert merged["timestamp"].is_unique().all()
    bar = _row(merged, 11)
    assert bar["open"] == first["open"]
    assert bar["close"] == second["close"]
    assert bar["high"] == max(first["high"], second["high"])
    assert bar["low"] == min(first["low"], second["low"])
    assert bar["volume"] == first["volume"] + second["volume"]


def test_repair_ohlc_widens_high_and_low_to_the_body(tmp_path: Path) -> None:
    rows = clean_rows()
    rows[7]["high"] = max(rows[7]["open"], rows[7]["close"]) - 0.25
    rows[12]["low"] = min(rows[12]["open"], rows[12]["close"]) + 0.25
    bars, report = run_validate(write_bars(tmp_path, rows), ohlc_inconsistent="repair")
    assert report.findings["ohlc_inconsistent"].count == 2
    assert _row(bars, 8)["high"] == max(rows[7]["open"], rows[7]["close"])
    assert _row(bars, 13)["low"] == min(rows[12]["open"], rows[12]["close"])
    ok = bars.select(
        (pl.col("high") >= pl.max_horizontal("open", "close", "low"))
        & (pl.col("low") <= pl.min_horizontal("open", "close"))
    ).to_series()
    assert ok.all()
    untouched = [r for r in range(1, N + 1) if r not in (8, 13)]
    clean = pl.DataFrame(clean_rows()).with_row_index("row", offset=1)
    for col in ("high", "low"):
        got = bars.filter(pl.col("row").is_in(untouched))[col].to_list()
        assert got == clean.filter(pl.col("row").is_in(untouched))[col].to_list()


def test_ohlc_low_violation_names_the_low_column(tmp_path: Path) -> None:
    rows = clean_rows()
    rows[12]["low"] = max(rows[12]["open"], rows[12]["close"]) + 0.25
    rows[12]["high"] = rows[12]["low"] + 0.25
    with pytest.raises(DataError, match=r"row 13 .*column 'low'"):
        run_validate(write_bars(tmp_path, rows), ohlc_inconsistent="fail")


def test_non_positive_prices_allowed_for_cl_but_not_mes(tmp_path: Path) -> None:
    rows = clean_rows()
    for i, r in enumerate(rows):  # a crude-oil-like series that trades through zero (April 2020)
        p = 1.0 - 0.1 * i
        rows[i] = dict(r, open=p + 0.05, high=p + 0.1, low=p - 0.1, close=p)
    path = write_bars(tmp_path, rows)
    bars, report = run_validate(path, "CL")
    assert bars.height == N
    assert bars["close"].min() < 0
    assert report.findings["non_positive_price"].count == 0
    assert report.findings["non_positive_price"].policy == "allowed by instrument"
    with pytest.raises(DataError, match=r"row 10 .*non_positive_price"):
        run_validate(path, "MES")


def test_defaults_drop_duplicates_and_keep_warnings(tmp_path: Path) -> None:
    rows = clean_rows()
    _inject_duplicate(rows)
    _inject_zero_volume(rows)
    bars, report = run_validate(write_bars(tmp_path, rows))
    assert report.findings["duplicates"].action.startswith("dropped")
    assert report.findings["zero_volume"].action.startswith("kept")
    assert bars.height == N - 1


def test_report_dict_carries_every_count(tmp_path: Path) -> None:
    _, report = run_validate(bad_file(tmp_path, "zero_volume"))
    d = report.to_dict()
    assert set(d["counts"]) == set(PROBLEMS) == set(d["findings"])
    assert d["counts"]["zero_volume"] == 1
    assert set(d["gaps"]["by_kind"]) == {"weekend", "daily_break", "holiday", "intra_session", "unexpected"}
    for key in (
        "rows_in",
        "rows_out",
        "first_timestamp",
        "last_timestamp",
        "trading_days",
        "bars_per_session",
    ):
        assert d[key] is not None


def test_policies_reject_unknown_keys() -> None:
    with pytest.raises(ValueError, match="typo_volume"):
        ValidationPolicies.model_validate({"typo_volume": "fail"})


def test_everything_dropped_is_an_error(tmp_path: Path) -> None:
    rows = clean_rows()
    for r in rows:
        r["close"] = None
    with pytest.raises(DataError, match="no bars left"):
        run_validate(write_bars(tmp_path, rows), missing_price="drop")
