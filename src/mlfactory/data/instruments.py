"""Contract specifications (tick size, point value, session, costs) from ``configs/instruments.yaml``.

A user file (``--instruments FILE``, same schema) is merged over the shipped one: its sessions and
instruments are added, and the fields it gives for a shipped symbol replace that symbol's fields.
Costs are never silently zero: an instrument records ``costs = "modelled"`` (commission and slippage
known), ``"none"`` (the user said so: ``--no-costs`` or ``costs: none`` in the file) or ``"unset"``
(unknown; commands refuse it, see ``require_costs``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mlfactory.errors import ConfigError
from mlfactory.paths import config_dir


class SessionSpec(BaseModel):
    """A trading session template: exchange hours in the exchange's timezone, or continuous (24/7)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["exchange", "continuous"]
    timezone: str
    open: str = "17:00"
    close: str = "16:00"
    daily_break: tuple[str, str] | None = None
    weekly_open: str | None = None
    weekly_close: str | None = None

    @property
    def open_minute(self) -> int:
        return _hhmm_to_minutes(self.open)

    @property
    def close_minute(self) -> int:
        return _hhmm_to_minutes(self.close)

    @property
    def trading_minutes_per_day(self) -> int:
        """Minutes of trading in one full trading day (23 h for CME Globex, 24 h for 24/7)."""
        if self.kind == "continuous":
            return 1440
        span = (self.close_minute - self.open_minute) % 1440
        return span if span else 1440

    @property
    def trading_days_per_year(self) -> float:
        return 365.25 if self.kind == "continuous" else 252.0


def _hhmm_to_minutes(s: str) -> int:
    h, m = s.split(":")
    return int(h) * 60 + int(m)


class Instrument(BaseModel):
    """One futures contract. Costs are per contract; prices are in index/price points."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    symbol: str
    name: str = ""
    tick_size: float = Field(gt=0)
    point_value: float = Field(gt=0)
    session_name: str
    session: SessionSpec
    calendar: str | None = None
    commission_per_side: float = Field(default=0.0, ge=0)
    slippage_ticks: float = Field(default=0.0, ge=0)
    allow_non_positive_prices: bool = False
    costs: Literal["modelled", "none", "unset"] = "modelled"

    @property
    def timezone(self) -> str:
        return self.session.timezone

    def round_trip_cost_points(self) -> float:
        """Round-trip cost in price points: 2 × (commission ÷ point value + slippage ticks × tick size)."""
        return 2.0 * (self.commission_per_side / self.point_value + self.slippage_ticks * self.tick_size)

    def round_trip_cost_currency(self) -> float:
        return self.round_trip_cost_points() * self.point_value


class _InstrumentEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = ""
    tick_size: float = Field(gt=0)
    point_value: float = Field(gt=0)
    session: str
    calendar: str | None = None
    commission_per_side: float | None = Field(default=None, ge=0)
    slippage_ticks: float | None = Field(default=None, ge=0)
    costs: Literal["none"] | None = Field(
        default=None, description="'none' declares a deliberately cost-free instrument"
    )
    allow_non_positive_prices: bool = False

    @field_validator("session")
    @classmethod
    def _strip(cls, v: str) -> str:
        return v.strip()


class InstrumentBook(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sessions: dict[str, SessionSpec]
    instruments: dict[str, _InstrumentEntry]


def _format_validation(path: Path, err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"])
        parts.append(f"{loc}: {e['msg']}")
    return f"{path}: invalid instrument config: " + "; ".join(parts)


def _read_text(path: Path) -> str:
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read instrument config: {exc}") from exc


def _parse_yaml(text: str, path: Path) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: cannot read instrument config: {exc}") from exc
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: an instrument config is a mapping with 'sessions' and 'instruments'")
    return raw


def _merge(base: dict[str, Any], extra: dict[str, Any], path: Path) -> dict[str, Any]:
    """``extra`` over ``base``: new sessions/instruments are added, given fields replace shipped ones."""
    unknown = set(extra) - {"sessions", "instruments"}
    if unknown:
        raise ConfigError(
            f"{path}: unknown top-level keys {sorted(unknown)}; an instrument file has 'sessions' and 'instruments'"
        )
    out = {k: dict(v or {}) for k, v in base.items()}
    for section in ("sessions", "instruments"):
        given = extra.get(section) or {}
        if not isinstance(given, dict):
            raise ConfigError(f"{path}: {section} must be a mapping of name → fields")
        for name, fields in given.items():
            key = str(name).strip().upper() if section == "instruments" else str(name)
            if not isinstance(fields, dict):
                raise ConfigError(f"{path}: {section}.{name} must be a mapping of fields")
            out.setdefault(section, {})
            out[section][key] = {**(out[section].get(key) or {}), **fields}
    return out


def load_instrument_book(path: Path | None = None, extra: Path | None = None) -> InstrumentBook:
    """The shipped (or ``path``) instrument book, with the user file ``extra`` merged over it."""
    path = Path(path or (config_dir() / "instruments.yaml"))
    extra_text = None if extra is None else _read_text(Path(extra))
    return _book(path, _read_text(path), None if extra is None else Path(extra), extra_text)


@lru_cache(maxsize=16)
def _book(path: Path, text: str, extra: Path | None, extra_text: str | None) -> InstrumentBook:
    """Parsed and validated book, cached by the files' contents (an edited file is read again)."""
    raw = _parse_yaml(text, path)
    source = path
    if extra is not None and extra_text is not None:
        raw = _merge(raw, _parse_yaml(extra_text, extra), extra)
        source = extra
    try:
        book = InstrumentBook.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_validation(source, exc)) from exc
    for sym, entry in book.instruments.items():
        if entry.session not in book.sessions:
            raise ConfigError(
                f"{source}: instruments.{sym}.session: unknown session {entry.session!r}; "
                f"define it under sessions (known: {', '.join(book.sessions)})"
            )
    return book


def get_instrument(
    symbol: str,
    *,
    tick_size: float | None = None,
    point_value: float | None = None,
    session: str | None = None,
    commission_per_side: float | None = None,
    slippage_ticks: float | None = None,
    no_costs: bool = False,
    path: Path | None = None,
    instruments: Path | None = None,
) -> Instrument:
    """Look up ``symbol``; explicit arguments override the config (and are required for unknown symbols).

    ``instruments`` is a user file merged over the shipped book. Costs missing from both the book and
    the arguments leave the instrument ``costs="unset"`` (zero numbers that ``require_costs`` refuses);
    ``no_costs`` records a deliberate ``costs="none"``.
    """
    book = load_instrument_book(path, Path(instruments) if instruments is not None else None)
    sym = symbol.strip().upper()
    entry = book.instruments.get(sym)
    if entry is None:
        missing = [
            n
            for n, v in (("--tick-size", tick_size), ("--point-value", point_value), ("--session", session))
            if v is None
        ]
        if missing:
            where = (
                f"{instruments} or configs/instruments.yaml" if instruments else "configs/instruments.yaml"
            )
            raise ConfigError(
                f"unknown symbol {symbol!r}: not in {where} (known: {', '.join(sorted(book.instruments))}). "
                f"Add it to a file passed with --instruments, or pass {', '.join(missing)} explicitly"
            )
        try:
            entry = _InstrumentEntry(tick_size=tick_size, point_value=point_value, session=session)  # type: ignore[arg-type]
        except ValidationError as exc:
            raise ConfigError(_format_validation(Path("<command line>"), exc)) from exc
    session_name = session or entry.session
    if session_name not in book.sessions:
        raise ConfigError(
            f"--session: unknown session {session_name!r}; use one of {', '.join(book.sessions)}"
        )
    commission = commission_per_side if commission_per_side is not None else entry.commission_per_side
    slippage = slippage_ticks if slippage_ticks is not None else entry.slippage_ticks
    if no_costs:
        commission, slippage, costs = 0.0, 0.0, "none"
    elif commission is None or slippage is None:
        costs = "none" if entry.costs == "none" else "unset"
    else:
        costs = "modelled"
    try:
        return Instrument(
            symbol=sym,
            name=entry.name,
            tick_size=tick_size if tick_size is not None else entry.tick_size,
            point_value=point_value if point_value is not None else entry.point_value,
            session_name=session_name,
            session=book.sessions[session_name],
            calendar=entry.calendar if session is None or session == entry.session else None,
            commission_per_side=commission or 0.0,
            slippage_ticks=slippage or 0.0,
            allow_non_positive_prices=entry.allow_non_positive_prices,
            costs=costs,
        )
    except ValidationError as exc:
        raise ConfigError(_format_validation(Path("<command line>"), exc)) from exc


def require_costs(instrument: Instrument) -> Instrument:
    """Refuse an instrument whose commission or slippage is unknown (never trade at a silent zero cost)."""
    if instrument.costs == "unset":
        raise ConfigError(
            f"symbol {instrument.symbol!r} has no commission and slippage: results would silently assume zero costs. "
            "Pass --commission (currency per contract per side) and --slippage-ticks (ticks per side), "
            "or an --instruments FILE that sets commission_per_side and slippage_ticks for it; "
            "pass --no-costs to run without costs on purpose (reports then say 'no costs')"
        )
    return instrument


def symbol_from_file_name(path: Path, instruments: Path | None = None) -> str | None:
    """The known symbol a file name starts with (``6E_1m.parquet`` → 6E), or ``None``."""
    head = re.split(r"[_\-. ]", Path(path).name, maxsplit=1)[0].upper()
    return head if head in load_instrument_book(None, instruments).instruments else None
