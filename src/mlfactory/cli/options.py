"""Options shared by several commands, and how they become an instrument and a config."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mlfactory.cli.common import console, parse_key_values
from mlfactory.errors import ConfigError

if TYPE_CHECKING:
    from mlfactory.config import PipelineConfig
    from mlfactory.data.instruments import Instrument
    from mlfactory.serving.conventions import InputOptions

SEED_MAX = 2**32 - 1  # numpy's range; equal to mlfactory.config.SEED_MAX (a test checks)

FORMAT_CHOICES = "auto|ninjatrader|tradestation|sierra|databento|generic"  # = data.formats.FORMATS (tested)

Symbol = Annotated[
    str | None,
    typer.Option(
        "--symbol",
        "-s",
        help="contract symbol (configs/instruments.yaml or --instruments), e.g. MES; required unless the "
        "file name starts with a known symbol (6E_1m.parquet)",
    ),
]
Format = Annotated[
    str | None,
    typer.Option(
        "--format",
        help=f"input layout: {FORMAT_CHOICES} (default auto: detected from the header and first line; "
        "with a bundle, its config's)",
    ),
]
Instruments = Annotated[
    Path | None,
    typer.Option("--instruments", help="YAML of your own instruments, merged over configs/instruments.yaml"),
]
Commission = Annotated[
    float | None, typer.Option("--commission", help="commission in currency per contract per side")
]
SlippageTicks = Annotated[
    float | None, typer.Option("--slippage-ticks", help="assumed slippage per side, in ticks")
]
NoCosts = Annotated[
    bool, typer.Option("--no-costs", help="run without commission and slippage on purpose (reports say so)")
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
    typer.Option(
        "--tz",
        help="timezone of naive timestamps (default: the instrument's exchange timezone; with a bundle, the "
        "one its training data was read in)",
    ),
]
Stamp = Annotated[
    str | None,
    typer.Option(
        "--stamp",
        help="whether input timestamps mark the bar's 'open' or 'close' (default: the format's convention; "
        "with a bundle, its training data's)",
    ),
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
    symbol: str | None,
    tick_size: float | None,
    point_value: float | None,
    session: str | None,
    *,
    data: Path | None = None,
    instruments: Path | None = None,
    commission: float | None = None,
    slippage_ticks: float | None = None,
    no_costs: bool = False,
) -> Instrument:
    """The instrument of a command that reads bars: symbol given or inferred from ``data``, costs required."""
    from mlfactory.data.instruments import get_instrument, require_costs

    if no_costs and (commission is not None or slippage_ticks is not None):
        raise ConfigError("--no-costs contradicts --commission/--slippage-ticks; pass one or the other")
    symbol = symbol or infer_symbol(data, instruments)
    instrument = get_instrument(
        symbol,
        tick_size=tick_size,
        point_value=point_value,
        session=session,
        commission_per_side=commission,
        slippage_ticks=slippage_ticks,
        no_costs=no_costs,
        instruments=instruments,
    )
    return require_costs(instrument)


def infer_symbol(data: Path | None, instruments: Path | None = None) -> str:
    """The symbol a file name starts with (``6E_1m.parquet`` → 6E), if it is a known instrument; said on stderr."""
    from mlfactory.data.instruments import load_instrument_book, symbol_from_file_name

    head = None if data is None else symbol_from_file_name(data, instruments)
    if data is not None and head is not None:
        console.print(
            f"[yellow]symbol {head} inferred from the file name {Path(data).name}[/]; pass --symbol to override"
        )
        return head
    known = load_instrument_book(None, instruments).instruments
    raise ConfigError(
        "--symbol is required: the file name does not start with a known symbol "
        f"(known: {', '.join(sorted(known))}); pass --symbol, with --instruments FILE for your own contracts"
    )


def input_options(
    fmt: str | None, stamp: str | None, tz: str | None, symbol: str | None, instruments: Path | None
) -> InputOptions:
    """How a command that applies a bundle reads a new file: these options, else the bundle's conventions."""
    from mlfactory.serving.conventions import InputOptions

    return InputOptions(format=fmt, stamp=stamp, timezone=tz, symbol=symbol, instruments=instruments)


def make_config(
    config: Path | None,
    tz: str | None,
    stamp: str | None,
    policies: list[str] | None,
    fmt: str | None = None,
    **ladder: Any,
) -> PipelineConfig:
    from mlfactory.config import load_pipeline_config

    overrides: dict[str, Any] = {}
    data: dict[str, Any] = {}
    if fmt:
        if fmt not in FORMAT_CHOICES.split("|"):
            raise ConfigError(f"--format {fmt!r}: unknown; use one of {', '.join(FORMAT_CHOICES.split('|'))}")
        data["format"] = fmt
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
