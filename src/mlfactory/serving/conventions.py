"""New bars for a bundle, read with the conventions of its training data.

A bundle records how its training bars were read (``bundle.DataConventions``: symbol, layout,
stamp, timezone). ``predict``, ``predict --stream``, ``serve --warmup`` and ``monitor`` read a new
file the same way unless the user describes that file otherwise (``InputOptions``: the
``--format``, ``--stamp``, ``--tz``, ``--symbol`` and ``--instruments`` of ``pipeline run``). The
options describe the *new file*: bars stamped at their open read with ``--stamp open`` become the
canonical close stamps, exactly as the training bars were.

Input that contradicts the bundle is refused (exit 2), never predicted on:

- ``--symbol`` other than the bundle's, or a file name that starts with another known symbol;
- an ``--instruments`` definition of the bundle's symbol with another tick size, point value or
  session (the features are computed from them);
- bars that look stamped at their open when the bundle was trained on close stamps and no
  ``--stamp`` was given (``plausibility.stamp_open_evidence``, a warning in ``pipeline run``);
- a detected layout other than the bundle's whose own stamp convention differs, without ``--stamp``.

Bars posted to the live server are outside this: they are defined as UTC bar closes
(``live.bars_frame``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from mlfactory.config import PipelineConfig
from mlfactory.data.formats import FORMATS, STAMP, detect_format
from mlfactory.data.ingest import IngestInfo
from mlfactory.data.instruments import get_instrument, load_instrument_book, symbol_from_file_name
from mlfactory.data.plausibility import stamp_open_evidence
from mlfactory.data.sessions import attach_sessions
from mlfactory.data.validate import ValidationReport
from mlfactory.errors import ConfigError, DataError
from mlfactory.pipeline import data_conventions, read_bars
from mlfactory.serving.bundle import Bundle

STAMPS = ("open", "close")


@dataclass(frozen=True)
class InputOptions:
    """What the user said about a new file; ``None`` = not said (the bundle's convention applies)."""

    format: str | None = None
    stamp: str | None = None
    timezone: str | None = None
    symbol: str | None = None
    instruments: Path | None = None

    def __post_init__(self) -> None:
        if self.format is not None and self.format not in FORMATS:
            raise ConfigError(f"--format {self.format!r}: unknown; use one of {', '.join(FORMATS)}")
        if self.stamp is not None and self.stamp not in STAMPS:
            raise ConfigError(f"--stamp {self.stamp!r}: use 'open' or 'close' (how the new file stamps bars)")

    @property
    def describes_a_file(self) -> bool:
        """Whether an option says how to read a file (``--format``, ``--stamp``, ``--tz``)."""
        return any(v is not None for v in (self.format, self.stamp, self.timezone))


@dataclass(frozen=True)
class NewBars:
    """Validated 1-minute bars (no ``row`` column), their report and the conventions they were read with."""

    bars: pl.DataFrame
    report: ValidationReport
    conventions: dict[str, Any]


def read_new_bars(bundle: Bundle, path: Path, options: InputOptions | None = None) -> NewBars:
    """Read and validate ``path`` for ``bundle``: its conventions unless ``options`` say otherwise."""
    options = options or InputOptions()
    path = Path(path)
    check_identity(bundle, options, path)
    config, refuse_open_stamps = reading_config(bundle, path, options)

    def check(raw: pl.DataFrame, info: IngestInfo) -> None:
        if refuse_open_stamps and info.stamp == "close":
            _refuse_open_stamps(bundle, raw, path)

    bars, report, info = read_bars(path, bundle.instrument, config, check_ingested=check)
    return NewBars(bars.drop("row"), report, data_conventions(bundle.instrument, info))


def check_identity(bundle: Bundle, options: InputOptions, path: Path | None = None) -> None:
    """Refuse a ``--symbol``, a file name or an ``--instruments`` definition that contradicts the bundle."""
    symbol = bundle.spec.conventions.symbol
    name = bundle.spec.ensemble_id
    if options.symbol is not None and options.symbol.strip().upper() != symbol:
        raise ConfigError(
            f"--symbol {options.symbol}: the bundle {name} was trained on {symbol} bars, and its features "
            f"and costs are {symbol}'s; predict {symbol} bars with it (or drop --symbol), or use a bundle "
            f"trained on {options.symbol.strip().upper()}"
        )
    if options.symbol is None and path is not None:
        named = symbol_from_file_name(path, options.instruments)
        if named is not None and named != symbol:
            raise DataError(
                f"{path}: the file name says {named}, but the bundle {name} was trained on {symbol} bars; "
                f"pass --symbol {symbol} if the file does hold {symbol} bars, or use a bundle trained on {named}"
            )
    if options.instruments is not None:
        _check_instruments(bundle, Path(options.instruments))


def reading_config(bundle: Bundle, path: Path, options: InputOptions) -> tuple[PipelineConfig, bool]:
    """The bundle's config with the format, stamp and timezone ``path`` is read with, and whether a
    file that looks stamped at the bar open must be refused (close-stamped bundle, no ``--stamp``)."""
    conv = bundle.spec.conventions
    fmt = options.format or bundle.config.data.format
    layout = (detect_format(path) if path.is_file() else None) if fmt == "auto" else fmt
    if options.stamp is not None:
        stamp = options.stamp
    elif layout is None or layout == conv.format or STAMP[layout] == conv.stamp:
        stamp = conv.stamp
    elif options.format not in (None, "auto"):  # the user named the layout: its convention holds
        stamp = STAMP[layout]
    else:
        raise DataError(
            f"{path}: detected as a {layout} file, whose timestamps mark the bar {STAMP[layout]}, but the "
            f"bundle {bundle.spec.ensemble_id} was trained on {conv.format} bars stamped at their "
            f"{conv.stamp}. Pass --stamp open or --stamp close to say how this file stamps its bars "
            "(or --format if the layout was detected wrongly)"
        )
    data = bundle.config.data.model_copy(
        update={"format": fmt, "stamp": stamp, "timezone": options.timezone or conv.timezone}
    )
    config = bundle.config.model_copy(update={"data": data})
    return config, options.stamp is None and conv.stamp == "close"


def _refuse_open_stamps(bundle: Bundle, raw: pl.DataFrame, path: Path) -> None:
    evidence = stamp_open_evidence(attach_sessions(raw, bundle.instrument), bundle.instrument, str(path))
    if evidence is None:
        return
    raise DataError(
        f"{evidence}: the file looks stamped at the bar open, but the bundle {bundle.spec.ensemble_id} was "
        "trained on bars stamped at their close, and reading open stamps as closes shifts every bar by a "
        "minute. If the feed stamps bars at their open, pass --stamp open; if they really are closes, "
        "pass --stamp close (and check --tz)"
    )


def _check_instruments(bundle: Bundle, instruments: Path) -> None:
    """An ``--instruments`` file that (re)defines the bundle's symbol or its session must agree with it."""
    book = load_instrument_book(None, instruments)  # validates the file (ConfigError naming it)
    raw = yaml.safe_load(instruments.read_text()) or {}
    own = bundle.instrument
    defined = {str(k).strip().upper() for k in (raw.get("instruments") or {})}
    if own.symbol not in defined and own.session_name not in (raw.get("sessions") or {}):
        return
    if own.symbol not in book.instruments:
        return
    theirs = get_instrument(own.symbol, instruments=instruments)
    differs = [
        f"{field} {getattr(theirs, field)} (the bundle's: {getattr(own, field)})"
        for field in ("tick_size", "point_value")
        if getattr(theirs, field) != getattr(own, field)
    ]
    if theirs.session != own.session:
        differs.append(
            f"session {theirs.session_name} {theirs.session.model_dump(exclude_none=True)} "
            f"(the bundle's: {own.session_name} {own.session.model_dump(exclude_none=True)})"
        )
    if differs:
        raise ConfigError(
            f"{instruments}: defines {own.symbol} with {'; '.join(differs)}. The bundle "
            f"{bundle.spec.ensemble_id} computes its features with its own {own.symbol} definition; drop "
            f"{own.symbol} from the file (and its session), or retrain on the new definition"
        )
