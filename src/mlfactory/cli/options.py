"""Options shared by several commands, and how they become an instrument and a config."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from mlfactory.cli.common import parse_key_values
from mlfactory.config import PipelineConfig, load_pipeline_config
from mlfactory.data.instruments import Instrument, get_instrument

Symbol = Annotated[
    str, typer.Option("--symbol", "-s", help="contract symbol (configs/instruments.yaml), e.g. MES")
]
TickSize = Annotated[
    float | None, typer.Option("--tick-size", help="tick size, required for symbols not in instruments.yaml")
]
PointValue = Annotated[
    float | None, typer.Option("--point-value", help="currency per price point, for unknown symbols")
]
Session = Annotated[str | None, typer.Option("--session", help="session kind: cme_globex or crypto_24x7")]
Tz = Annotated[
    str | None,
    typer.Option("--tz", help="timezone of naive timestamps (default: the instrument's exchange timezone)"),
]
Stamp = Annotated[
    str | None,
    typer.Option("--stamp", help="whether input timestamps mark the bar's 'open' or 'close' (default close)"),
]
Policies = Annotated[
    list[str] | None,
    typer.Option("--policy", help="validation policy override PROBLEM=fail|drop|repair|warn (repeatable)"),
]
ConfigPath = Annotated[
    Path | None, typer.Option("--config", "-c", help="pipeline config YAML (default: built-in defaults)")
]
Json = Annotated[bool, typer.Option("--json", help="print one JSON summary on stdout")]


def make_instrument(
    symbol: str, tick_size: float | None, point_value: float | None, session: str | None
) -> Instrument:
    return get_instrument(symbol, tick_size=tick_size, point_value=point_value, session=session)


def make_config(
    config: Path | None, tz: str | None, stamp: str | None, policies: list[str] | None, **ladder: Any
) -> PipelineConfig:
    overrides: dict[str, Any] = {}
    data: dict[str, Any] = {}
    if tz:
        data["timezone"] = tz
    if stamp:
        data["stamp"] = stamp
    pol = parse_key_values(policies, "--policy")
    if pol:
        data["validation"] = pol
    if data:
        overrides["data"] = data
    lad = {k: v for k, v in ladder.items() if v is not None}
    if lad:
        overrides["ladder"] = lad
    return load_pipeline_config(config, overrides)
