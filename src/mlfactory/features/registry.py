"""The feature registry: every feature of every group, per timeframe, with its metadata.

``feature_specs(tf, instrument)`` lists names, groups, kinds, warm-ups; ``feature_defs`` adds the
compute functions. Warm-ups of windows defined in time ("1d" = one trading day) depend on the
instrument's session length, hence the instrument argument.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from mlfactory.data.instruments import Instrument
from mlfactory.errors import ConfigError
from mlfactory.features.groups import GROUPS
from mlfactory.features.spec import FeatureDef, FeatureSpec, GroupBuilder
from mlfactory.timeframes import check_timeframe

MIN_FEATURES_PER_TIMEFRAME = 150


@lru_cache(maxsize=64)
def _defs(tf: str, instrument: Instrument) -> tuple[FeatureDef, ...]:
    out: list[FeatureDef] = []
    seen: set[str] = set()
    for group, build in GROUPS.items():
        g = GroupBuilder(group, tf, instrument)
        build(g)
        for d in g.defs:
            if d.spec.name in seen:
                raise RuntimeError(f"feature name {d.spec.name!r} is declared twice (group {group})")
            seen.add(d.spec.name)
            out.append(d)
    return tuple(out)


def feature_defs(
    tf: str, instrument: Instrument, names: Iterable[str] | None = None
) -> tuple[FeatureDef, ...]:
    """Definitions for ``tf`` (all, or the ``names`` given, in registry order)."""
    check_timeframe(tf)
    if names is None:
        return _defs(tf, instrument)
    return _chosen_defs(tf, instrument, tuple(names))


@lru_cache(maxsize=1024)
def _chosen_defs(tf: str, instrument: Instrument, wanted: tuple[str, ...]) -> tuple[FeatureDef, ...]:
    """``feature_defs`` of a name list (cached: the live predictor asks for the same lists each bar)."""
    defs = _defs(tf, instrument)
    known = {d.spec.name for d in defs}
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise ConfigError(
            f"unknown feature(s) {unknown} on timeframe {tf}; list them with `mlfactory features list --timeframe {tf}`"
        )
    chosen = set(wanted)
    return tuple(d for d in defs if d.spec.name in chosen)


def feature_specs(tf: str, instrument: Instrument) -> list[FeatureSpec]:
    """Every feature on ``tf``: name, group, kind, source timeframe, warm-up bars, description."""
    return [d.spec for d in feature_defs(tf, instrument)]


def feature_groups() -> tuple[str, ...]:
    return tuple(GROUPS)


def max_warmup(tf: str, instrument: Instrument) -> int:
    """Bars before every feature of ``tf`` is valid."""
    return max(s.warmup_bars for s in feature_specs(tf, instrument))
