"""Rows for ``mlfactory features list [--json]``: every registered feature of a timeframe."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from typing import Any

from mlfactory.data.instruments import Instrument
from mlfactory.features.registry import feature_specs

CATALOG_COLUMNS: tuple[str, ...] = (
    "name",
    "group",
    "kind",
    "timeframe",
    "warmup_bars",
    "fitted",
    "description",
)


def catalog_rows(tf: str, instrument: Instrument) -> list[dict[str, Any]]:
    """One dict per feature with the keys of ``CATALOG_COLUMNS``, in registry order."""
    rows = [asdict(s) for s in feature_specs(tf, instrument)]
    return [{k: row[k] for k in CATALOG_COLUMNS} for row in rows]


def catalog_summary(tf: str, instrument: Instrument) -> dict[str, Any]:
    """The JSON object of ``features list --json``: counts by group and kind, and the rows."""
    rows = catalog_rows(tf, instrument)
    return {
        "timeframe": tf,
        "symbol": instrument.symbol,
        "count": len(rows),
        "by_group": dict(Counter(r["group"] for r in rows)),
        "by_kind": dict(Counter(r["kind"] for r in rows)),
        "max_warmup_bars": max(r["warmup_bars"] for r in rows),
        "features": rows,
    }
