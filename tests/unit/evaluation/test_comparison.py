"""Common rows, coverage and thin-evidence warnings."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from mlfactory.errors import DataError
from mlfactory.evaluation.comparison import (
    NS_PER_DAY,
    common_rows,
    coverage,
    evidence_warnings,
    trading_days,
)


def _frame(ts: list[int], value: float) -> pl.DataFrame:
    return pl.DataFrame({"timestamp": ts, "p": [value] * len(ts)})


def test_common_rows_keeps_only_shared_timestamps_in_order():
    out = common_rows(
        {"a": _frame([5, 1, 2, 3, 4], 0.1), "b": _frame([2, 4, 5, 9], 0.2), "c": _frame([4, 2, 5], 0.3)}
    )
    for name, frame in out.items():
        assert frame["timestamp"].to_list() == [2, 4, 5], name
    assert out["b"]["p"].to_list() == [0.2] * 3  # each model keeps its own values
    assert common_rows({}) == {}


def test_common_rows_rejects_duplicates_and_missing_keys():
    with pytest.raises(DataError, match="duplicate"):
        common_rows({"a": _frame([1, 1], 0.0), "b": _frame([1], 0.0)})
    with pytest.raises(DataError, match="no column"):
        common_rows({"a": pl.DataFrame({"t": [1]})})


def test_coverage():
    assert coverage(567, 877) == {"rows_used": 567, "rows_on_clock": 877, "share": pytest.approx(567 / 877)}
    assert np.isnan(coverage(0, 0)["share"])
    with pytest.raises(DataError, match="subset"):
        coverage(10, 9)


def test_trading_days_counts_utc_dates():
    ts = np.array([0, 3600, NS_PER_DAY + 5, 3 * NS_PER_DAY, 3 * NS_PER_DAY + 60], dtype=np.int64)
    assert trading_days(ts) == 3


def test_evidence_warnings():
    assert evidence_warnings(0.95, 25, 40) == []
    w = evidence_warnings(567 / 877, 9, 12)
    assert len(w) == 3 and "coverage 65%" in w[0] and "9 trading days" in w[1] and "12" in w[2]
    assert evidence_warnings(float("nan"), None, None) == []
    assert evidence_warnings(0.9, 20, 30) == []  # thresholds are inclusive of the minimum
