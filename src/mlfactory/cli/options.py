"""Options shared by several commands, and how they become an instrument and a config."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mlfactory.cli.common import parse_key_values

if TYPE_CHECKING:
    from mlfactory.config import PipelineConfig
    from mlfactory.data.instruments import Instrument

SEED_MAX = 2**32 - 1  # numpy's range; equal to mlfactory.config.SEED_MAX (a test checks)

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
Seed = Annotated[
    int | None,
    typer.Option("--seed", min=0, max=SEED_MAX, help=f"seed, 0 … {SEED_MAX} (default: the run's seed)"),
]


def _check_out_dir(value: Path | None) -> Path | None:
    """``--out`` must be a directory we can create or write: not a file, not under a file."""
    if value is None:
        return value
    if value.exists() and not value.is_dir():
        raise typer.BadParameter(f"{value} is a file; give a directory path")
    parent = next((p for p in (value, *value.parents) if p.exists()), Path("."))
    if not parent.is_dir():
        raise typer.BadParameter(f"{parent} is a file, so {value} cannot be created; give a directory path")
    import os

    if not os.access(parent, os.W_OK | os.X_OK):
        raise typer.BadParameter(f"{parent} is not writable; choose a directory you can write")
    return value


def out_dir_option(help: str, *names: str) -> Any:
    """A typer option for an output directory, checked before the command runs (exit 2 with a message)."""
    return typer.Option(*names, help=help, callback=_check_out_dir)


def make_instrument(
    symbol: str, tick_size: float | None, point_value: float | None, session: str | None
) -> Instrument:
    from mlfactory.data.instruments import get_instrument

    return get_instrument(symbol, tick_size=tick_size, point_value=point_value, session=session)


def make_config(
    config: Path | None, tz: str | None, stamp: str | None, policies: list[str] | None, **ladder: Any
) -> PipelineConfig:
    from mlfactory.config import load_pipeline_config

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
