"""Feature groups, in output column order. Each module's ``build(g)`` declares its features."""

from __future__ import annotations

from collections.abc import Callable

from mlfactory.features.groups import (
    calendar,
    fracdiff,
    microstructure,
    momentum,
    regime,
    trend,
    volatility,
    volume,
    wavelets,
)
from mlfactory.features.spec import GroupBuilder

GROUPS: dict[str, Callable[[GroupBuilder], None]] = {
    "momentum": momentum.build,
    "trend": trend.build,
    "volatility": volatility.build,
    "volume": volume.build,
    "microstructure": microstructure.build,
    "wavelets": wavelets.build,
    "fracdiff": fracdiff.build,
    "regime": regime.build,
    "calendar": calendar.build,
}
