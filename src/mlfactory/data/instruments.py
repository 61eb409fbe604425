"""Contract specifications (tick size, point value, session, costs) from ``configs/instruments.yaml``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

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
    commission_per_side: float = Field(default=0.0, ge=0)
    slippage_ticks: float = Field(default=0.0, ge=0)
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


@lru_cache(maxsize=8)
def load_instrument_book(path: Path | None = None) -> InstrumentBook:
    path = path or (config_dir() / "instruments.yaml")
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read instrument config: {exc}") from exc
    try:
        book = InstrumentBook.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_validation(Path(path), exc)) from exc
    for sym, entry in book.instruments.items():
        if entry.session not in book.sessions:
            raise ConfigError(
                f"{path}: instruments.{sym}.session: unknown session {entry.session!r}; "
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
    path: Path | None = None,
) -> Instrument:
    """Look up ``symbol``; explicit arguments override the config (and are required for unknown symbols)."""
    book = load_instrument_book(path)
    sym = symbol.strip().upper()
    entry = book.instruments.get(sym)
    if entry is None:
        missing = [
            n
            for n, v in (("--tick-size", tick_size), ("--point-value", point_value), ("--session", session))
            if v is None
        ]
        if missing:
            raise ConfigError(
                f"unknown symbol {symbol!r}: not in configs/instruments.yaml (known: {', '.join(sorted(book.instruments))}). "
                f"Add it there, or pass {', '.join(missing)} explicitly"
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
    try:
        return Instrument(
            symbol=sym,
            name=entry.name,
            tick_size=tick_size if tick_size is not None else entry.tick_size,
            point_value=point_value if point_value is not None else entry.point_value,
            session_name=session_name,
            session=book.sessions[session_name],
            calendar=entry.calendar if session is None or session == entry.session else None,
            commission_per_side=commission_per_side
            if commission_per_side is not None
            else entry.commission_per_side,
            slippage_ticks=slippage_ticks if slippage_ticks is not None else entry.slippage_ticks,
            allow_non_positive_prices=entry.allow_non_positive_prices,
        )
    except ValidationError as exc:
        raise ConfigError(_format_validation(Path("<command line>"), exc)) from exc
