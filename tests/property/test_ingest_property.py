"""Malformed CSV files never crash `mlfactory data validate`: exit 0 with a JSON report, or 2 with "error:"."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from mlfactory.cli import app
from mlfactory.data.policies import ALLOWED

COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")
RUNNER = CliRunner()

junk = st.one_of(
    st.just(""),
    st.sampled_from(
        ["nan", "NaN", "inf", "-inf", "null", "N/A", "1e400", "-0", "0x1F", "true", "2024-13-45"]
    ),
    st.sampled_from(["0", "-3", "1e6", "-5", "1704812460", "2024-01-09T09:03:00Z"]),
    st.text(alphabet="ab1-:. ,\"'\t;", max_size=8),
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
# A small pool of minutes (in session, in the daily break, on a weekend) so duplicates and disorder are common.
iso_time = st.sampled_from(
    [f"2024-01-09 09:{m:02d}:00" for m in range(1, 8)] + ["2024-01-09 16:30:00", "2024-01-13 10:00:00"]
)
epoch_time = st.integers(0, 6).map(lambda m: str(1_704_812_460 + 60 * m))
price = st.sampled_from(["100", "100.25", "99.5", "101", "102.75"])
volume = st.sampled_from(["1", "10", "0", "2.5"])
POLICIES = [
    None,
    "duplicates=repair",
    "ohlc_inconsistent=drop",
    "missing_price=drop",
    "missing_volume=repair",
    "non_positive_price=drop",
    "negative_volume=repair",
    "out_of_session=fail",
]


@st.composite
def csv_files(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 20)) == 0:
        return draw(st.sampled_from(["", "\n", "timestamp,open,high,low,close,volume\n", "a\n1\n"]))
    if draw(st.integers(0, 3)):  # mostly a complete header (any order), so validation runs deep
        cols = draw(st.permutations([*COLUMNS, *(["extra"] if draw(st.booleans()) else [])]))
    else:
        cols = draw(st.lists(st.sampled_from([*COLUMNS, "extra"]), min_size=1, max_size=8))
    cell = {"timestamp": draw(st.sampled_from([iso_time, epoch_time])), "volume": volume}
    lines = [",".join(cols)]
    for _ in range(draw(st.integers(1, 8))):
        clean_row = draw(st.integers(0, 3)) > 0  # most rows are well formed
        cells = []
        for col in cols:
            good = cell.get(col, price)
            cells.append(draw(good if clean_row else st.one_of(good, good, junk)))
        lines.append(",".join(cells))
    return "\n".join(lines) + "\n"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=csv_files(), policy=st.sampled_from(POLICIES))
def test_validate_never_crashes(content: str, policy: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bars.csv"
        path.write_text(content)
        args = ["data", "validate", str(path), "--symbol", "MES", "--json"] + (
            ["--policy", policy] if policy else []
        )
        result = RUNNER.invoke(app, args)
    assert result.exit_code in (0, 2), f"exit {result.exit_code}: {result.exception!r}\n{content}"
    event(f"exit {result.exit_code}")
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        assert "error:" in result.stderr
        assert result.stdout == ""
    else:
        report = json.loads(result.stdout)  # exactly one JSON object
        assert set(report["counts"]) == set(ALLOWED)
        assert report["rows_out"] >= 1
