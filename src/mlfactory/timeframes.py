"""Timeframe names, the ladder, and validation of multi-timeframe lists."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from mlfactory.errors import ConfigError

BASE_RESOLUTION = "1m"
LADDER: tuple[str, ...] = ("5m", "10m", "15m", "20m", "25m", "30m", "45m", "1h", "4h", "1d")
ALL_TIMEFRAMES: tuple[str, ...] = (BASE_RESOLUTION, *LADDER)
DEFAULT_BASE_TIMEFRAME = "5m"

_TF_RE = re.compile(r"^(\d+)(m|h|d)$")
_UNIT_MINUTES = {"m": 1, "h": 60, "d": 1440}


def tf_minutes(tf: str) -> int:
    """Length of a timeframe in minutes (``1d`` counts as 1440; daily bars follow the trading day)."""
    m = _TF_RE.match(tf)
    if not m:
        raise ConfigError(f"unknown timeframe {tf!r}; use one of {', '.join(ALL_TIMEFRAMES)}")
    return int(m.group(1)) * _UNIT_MINUTES[m.group(2)]


def check_timeframe(tf: str, field: str = "timeframe") -> str:
    """Return ``tf`` if it is on the ladder (or 1m), else raise naming ``field``."""
    if tf not in ALL_TIMEFRAMES:
        raise ConfigError(f"{field}: unknown timeframe {tf!r}; use one of {', '.join(ALL_TIMEFRAMES)}")
    return tf


def bars_for_duration(minutes: float, tf: str) -> int:
    """How many bars of ``tf`` span ``minutes`` of time (at least 1): a 1-hour window is 12 bars on 5m."""
    return max(1, round(minutes / tf_minutes(tf)))


def default_mtf_timeframes(base: str) -> tuple[str, ...]:
    """The default multi-timeframe list: every ladder timeframe strictly coarser than ``base``."""
    check_timeframe(base, "base_timeframe")
    return tuple(tf for tf in LADDER if tf_minutes(tf) > tf_minutes(base))


def validate_mtf_timeframes(base: str, mtf: Iterable[str], field: str = "mtf_timeframes") -> tuple[str, ...]:
    """Check that every MTF timeframe is on the ladder and strictly coarser than ``base``."""
    check_timeframe(base, "base_timeframe")
    out: list[str] = []
    for tf in mtf:
        check_timeframe(tf, field)
        if tf_minutes(tf) <= tf_minutes(base):
            raise ConfigError(
                f"{field}: {tf!r} is not strictly coarser than the base timeframe {base!r}; "
                f"multi-timeframe inputs must come from coarser bars (e.g. {', '.join(default_mtf_timeframes(base)[:3])})"
            )
        if tf in out:
            raise ConfigError(f"{field}: {tf!r} is listed twice")
        out.append(tf)
    return tuple(sorted(out, key=tf_minutes))


def sort_timeframes(tfs: Sequence[str]) -> list[str]:
    return sorted(tfs, key=tf_minutes)
