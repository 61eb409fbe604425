"""Ingest errors for impossible times and cells: each names the file and the source row, none wraps silently."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from mlfactory.data.ingest import ingest, ingest_file
from mlfactory.errors import DataError

HEADER = "timestamp,open,high,low,close,volume\n"


def _csv(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "bars.csv"
    path.write_text(HEADER + body)
    return path


@pytest.mark.parametrize("when", ["9999-01-01 00:00:00", "2263-01-01 00:00:00", "1815-03-31 05:56:08"])
def test_iso_dates_out_of_range_are_errors_not_wrapped(tmp_path: Path, when: str) -> None:
    path = _csv(tmp_path, f"2024-01-09 09:01:00,1,1,1,1,1\n{when},1,1,1,1,1\n")
    with pytest.raises(DataError, match=r"bars\.csv: row 2, column 'timestamp': timestamp .*out of range"):
        ingest(path, timezone="UTC")


def test_mixed_epoch_units_name_the_first_row_of_the_other_unit(tmp_path: Path) -> None:
    seconds = [1_704_812_460 + 60 * i for i in range(4)]
    millis = [(1_704_812_460 + 60 * i) * 1000 for i in range(4, 8)]
    body = "".join(f"{t},1,1,1,1,1\n" for t in seconds + millis)
    with pytest.raises(
        DataError, match=r"bars\.csv: row 5, column 'timestamp'.*in ms but row 1 .* in s.*mixes"
    ):
        ingest(_csv(tmp_path, body), timezone="UTC")


def test_epochs_in_1970_are_wrong_units(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"row 1.*out of range.*epoch unit"):
        ingest(_csv(tmp_path, "86400,1,1,1,1,1\n"), timezone="UTC")


@pytest.mark.parametrize("column", ["open", "volume", "timestamp"])
def test_list_column_in_parquet_is_a_clear_error(tmp_path: Path, column: str) -> None:
    frame = pl.DataFrame(
        {
            "timestamp": (pl.Series([1_704_812_460, 1_704_812_520]) * 10**9).cast(pl.Datetime("ns", "UTC")),
            "open": [1.0, 1.0], "high": 1.0, "low": 1.0, "close": 1.0, "volume": [1.0, 2.0],
        }
    ).with_columns(pl.concat_list(pl.col(column), pl.col(column)).alias(column))  # fmt: skip
    path = tmp_path / "lists.parquet"
    frame.write_parquet(path)
    with pytest.raises(DataError, match=rf"lists\.parquet: row 1, column '{column}': holds List"):
        ingest_file(path, timezone="UTC")


def test_stamp_none_takes_the_format_convention(tmp_path: Path) -> None:
    path = _csv(tmp_path, "2024-01-09 09:01:00,1,1,1,1,1\n")
    closed, info = ingest_file(path, timezone="UTC", stamp=None)
    assert info.format == "generic" and info.stamp == "close"
    assert str(closed["timestamp"][0]) == "2024-01-09 09:01:00+00:00"
