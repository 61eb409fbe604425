"""Fixtures shared by the whole suite: the real MES file (skipped when absent) and small synthetic bars."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from mlfactory.data.instruments import Instrument, get_instrument
from mlfactory.data.synthetic import generate_bars

# The repository sits at /work/main; ../shared/data is its sibling.
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
REAL_MES = SHARED_DATA / "MES_1m.parquet"


@pytest.fixture(scope="session")
def real_mes_path() -> Path:
    """The real MES 1-minute file from ../shared/data; the test is skipped when it is absent."""
    if not REAL_MES.is_file():
        pytest.skip(f"{REAL_MES} not present (real data lives outside the repository)")
    return REAL_MES


@pytest.fixture(scope="session")
def mes() -> Instrument:
    return get_instrument("MES")


@pytest.fixture(scope="session")
def synthetic_bars() -> pl.DataFrame:
    """About three trading days of seeded synthetic MES bars (timestamp = bar close, UTC)."""
    return generate_bars(4_000, symbol="MES", start=date(2024, 1, 8), seed=11)


@pytest.fixture
def synthetic_parquet(tmp_path: Path, synthetic_bars: pl.DataFrame) -> Path:
    path = tmp_path / "bars.parquet"
    synthetic_bars.write_parquet(path)
    return path
