"""Rows behind `mlfactory features list [--json]`."""

from __future__ import annotations

import json

from mlfactory.features import feature_specs
from mlfactory.features.catalog import CATALOG_COLUMNS, catalog_rows, catalog_summary


def test_rows_mirror_the_registry(mes):
    rows = catalog_rows("5m", mes)
    specs = feature_specs("5m", mes)
    assert [r["name"] for r in rows] == [s.name for s in specs]
    assert all(tuple(r) == CATALOG_COLUMNS for r in rows)
    atr = next(r for r in rows if r["name"] == "atr_1h")
    assert (atr["group"], atr["kind"], atr["timeframe"], atr["warmup_bars"]) == (
        "volatility",
        "raw",
        "5m",
        12,
    )


def test_summary_is_json_and_counts_add_up(mes):
    summary = json.loads(json.dumps(catalog_summary("15m", mes)))
    assert summary["count"] == len(summary["features"]) == len(feature_specs("15m", mes)) >= 150
    assert sum(summary["by_group"].values()) == summary["count"] == sum(summary["by_kind"].values())
    assert summary["max_warmup_bars"] == max(r["warmup_bars"] for r in summary["features"])
