"""What a feature is: its metadata (``FeatureSpec``) and how a group declares its features.

A feature group is a function ``build(g: GroupBuilder) -> None`` that calls ``g.add`` once per
feature with the spec fields and a ``compute(ctx) -> np.ndarray`` closure. The same declaration
serves both listing (``feature_specs``) and computing (``compute_features``), so names, warm-ups
and values cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from mlfactory.data.instruments import Instrument
from mlfactory.errors import ConfigError
from mlfactory.timeframes import bars_for_duration, check_timeframe, tf_minutes

if TYPE_CHECKING:
    import numpy as np

    from mlfactory.features.context import BarContext

Kind = Literal["raw", "engineered"]
ComputeFn = Callable[["BarContext"], "np.ndarray"]
FitFn = Callable[["BarContext", int], dict[str, Any]]

# Named time spans used by indicator families whose window means a span of time; "1d" is one
# trading day of the instrument's session (23 h on CME Globex), resolved in ``window_minutes``.
TIME_WINDOWS: tuple[str, ...] = ("30m", "1h", "4h", "1d")
_FIXED_MINUTES = {"15m": 15, "30m": 30, "1h": 60, "2h": 120, "4h": 240}


@dataclass(frozen=True)
class FeatureSpec:
    """Metadata of one feature column on one timeframe."""

    name: str
    group: str
    kind: Kind
    timeframe: str
    warmup_bars: int  # rows before the first valid value (value at index warmup_bars is defined)
    description: str  # timeframe-independent meaning
    fitted: bool = False  # needs state fitted on training rows (e.g. the fracdiff order d)
    # the value at a bar is a function of that bar and the warmup_bars before it alone (no recursion,
    # no running sum, no session anchor): any tail of warmup_bars + 1 bars gives it bit for bit
    window_only: bool = False


@dataclass(frozen=True)
class FeatureDef:
    spec: FeatureSpec
    compute: ComputeFn = field(repr=False)
    fit: FitFn | None = field(default=None, repr=False)


class Window(NamedTuple):
    label: str  # name suffix: "20" (bars) or "1h" (time)
    bars: int
    span: str  # for descriptions: "20 bars" or "1h"


def window_minutes(label: str, instrument: Instrument) -> int:
    """Minutes spanned by a named time window (``"1d"`` = the instrument's trading minutes per day)."""
    if label == "1d":
        return instrument.session.trading_minutes_per_day
    if label not in _FIXED_MINUTES:
        raise ConfigError(f"unknown time window {label!r}; use one of {', '.join([*_FIXED_MINUTES, '1d'])}")
    return _FIXED_MINUTES[label]


class GroupBuilder:
    """Collects the ``FeatureDef``s of one group for one timeframe and instrument."""

    def __init__(self, group: str, tf: str, instrument: Instrument) -> None:
        self.group = group
        self.tf = check_timeframe(tf)
        self.instrument = instrument
        self.defs: list[FeatureDef] = []

    @property
    def intraday(self) -> bool:
        """True below the daily timeframe (time-of-day features make sense)."""
        return tf_minutes(self.tf) < 1440

    def bars(self, label: str) -> int:
        """Bars of this timeframe spanning the named time window (at least 1)."""
        return bars_for_duration(window_minutes(label, self.instrument), self.tf)

    def windows(
        self, *bar_counts: int, times: Iterable[str] = TIME_WINDOWS, min_bars: int = 2
    ) -> list[Window]:
        """Fixed bar-count windows, then the named time windows spanning at least ``min_bars`` bars here.

        Shorter time windows are left out rather than clamped: a "30m" window on 1h bars would
        duplicate a longer one under a misleading name.
        """
        fixed = [Window(str(n), n, f"{n} bars") for n in bar_counts]
        timed = [Window(lab, self.bars(lab), lab) for lab in times]
        return fixed + [w for w in timed if w.bars >= min_bars]

    def add(
        self,
        name: str,
        compute: ComputeFn,
        *,
        warmup: int,
        desc: str,
        kind: Kind = "engineered",
        fit: FitFn | None = None,
        window_only: bool = False,
    ) -> None:
        if warmup < 0:
            raise ValueError(f"feature {name}: negative warm-up {warmup}")
        spec = FeatureSpec(
            name=name,
            group=self.group,
            kind=kind,
            timeframe=self.tf,
            warmup_bars=int(warmup),
            description=desc,
            fitted=fit is not None,
            window_only=window_only,
        )
        self.defs.append(FeatureDef(spec, compute, fit))
