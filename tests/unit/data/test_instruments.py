"""Instruments: the shipped contracts, costs, sessions, and unknown symbols."""

from __future__ import annotations

import pytest

from mlfactory.data.instruments import get_instrument, load_instrument_book
from mlfactory.errors import ConfigError

REQUIRED = "ES MES NQ MNQ RTY M2K YM MYM GC MGC SI SIL HG CL MCL NG ZN ZB ZF 6E M6E 6J 6B".split()


def test_all_required_contracts_present() -> None:
    book = load_instrument_book()
    assert set(REQUIRED) <= set(book.instruments)
    for sym in REQUIRED:
        inst = get_instrument(sym)
        assert inst.tick_size > 0 and inst.point_value > 0
        assert inst.session.kind == "exchange"
        assert inst.timezone == "America/Chicago"
        assert inst.calendar, f"{sym} needs an exchange calendar for holidays"
        assert inst.session.trading_minutes_per_day == 23 * 60


def test_mes_round_trip_cost_in_points() -> None:
    mes = get_instrument("mes")
    assert mes.symbol == "MES"
    assert mes.round_trip_cost_points() == pytest.approx(2 * (0.62 / 5 + 0.25))
    assert mes.round_trip_cost_currency() == pytest.approx(2 * (0.62 + 0.25 * 5))


def test_non_positive_prices_are_an_instrument_setting() -> None:
    assert get_instrument("CL").allow_non_positive_prices
    assert not get_instrument("MES").allow_non_positive_prices


def test_unknown_symbol_needs_explicit_specs() -> None:
    with pytest.raises(ConfigError, match=r"unknown symbol 'XYZ'.*--tick-size, --point-value, --session"):
        get_instrument("XYZ")
    with pytest.raises(ConfigError, match=r"pass --session explicitly"):
        get_instrument("XYZ", tick_size=0.1, point_value=10)
    inst = get_instrument("XYZ", tick_size=0.1, point_value=10, session="cme_globex")
    assert (inst.tick_size, inst.point_value, inst.session_name) == (0.1, 10, "cme_globex")
    btc = get_instrument("BTCPERP", tick_size=0.5, point_value=1, session="crypto_24x7")
    assert btc.session.kind == "continuous"
    assert btc.session.trading_minutes_per_day == 1440


def test_bad_overrides_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"--session: unknown session 'lunar'"):
        get_instrument("XYZ", tick_size=0.1, point_value=10, session="lunar")
    with pytest.raises(ConfigError, match=r"tick_size"):
        get_instrument("XYZ", tick_size=-1, point_value=10, session="cme_globex")
    assert get_instrument("MES", tick_size=0.5).tick_size == 0.5
