"""Instruments: the shipped contracts, costs, sessions, and unknown symbols."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlfactory.data.instruments import get_instrument, load_instrument_book, require_costs
from mlfactory.errors import ConfigError

REQUIRED = "ES MES NQ MNQ RTY M2K YM MYM GC MGC SI SIL HG CL MCL NG ZN ZB ZF 6E M6E 6J 6B BTC MBT".split()


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
        assert inst.costs == "modelled" and inst.commission_per_side > 0 and inst.slippage_ticks > 0


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


def test_unknown_symbol_without_costs_is_refused_unless_costs_are_given() -> None:
    spec = {"tick_size": 1.0, "point_value": 1.0, "session": "crypto_24x7"}
    unset = get_instrument("COIN", **spec)
    assert unset.costs == "unset"
    with pytest.raises(ConfigError) as info:
        require_costs(unset)
    for hint in ("--commission", "--slippage-ticks", "--instruments", "--no-costs"):
        assert hint in str(info.value)
    with pytest.raises(ConfigError, match=r"no commission and slippage"):
        require_costs(get_instrument("COIN", commission_per_side=1.0, **spec))  # slippage still missing
    costed = require_costs(get_instrument("COIN", commission_per_side=1.5, slippage_ticks=2, **spec))
    assert costed.costs == "modelled"
    assert costed.round_trip_cost_points() == pytest.approx(2 * (1.5 + 2.0))
    free = require_costs(get_instrument("COIN", no_costs=True, **spec))
    assert free.costs == "none" and free.round_trip_cost_points() == 0.0


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_own_instruments_are_merged_over_the_shipped_file(tmp_path: Path) -> None:
    own = _write(
        tmp_path / "mine.yaml",
        "sessions:\n"
        "  eurex:\n    kind: exchange\n    timezone: Europe/Berlin\n    open: '01:10'\n    close: '22:00'\n"
        "instruments:\n"
        "  FDAX: {tick_size: 1.0, point_value: 25, session: eurex, commission_per_side: 2.0, slippage_ticks: 1}\n"
        "  mes: {commission_per_side: 0.35}\n"
        "  TOY: {tick_size: 0.5, point_value: 1, session: crypto_24x7, costs: none}\n",
    )
    fdax = get_instrument("FDAX", instruments=own)
    assert fdax.timezone == "Europe/Berlin" and fdax.costs == "modelled"
    mes = get_instrument("MES", instruments=own)
    assert mes.commission_per_side == 0.35  # the given field replaces the shipped one
    assert (mes.tick_size, mes.point_value, mes.slippage_ticks) == (0.25, 5, 1)  # the rest is kept
    assert get_instrument("ES", instruments=own).commission_per_side == 2.25
    assert require_costs(get_instrument("TOY", instruments=own)).costs == "none"
    with pytest.raises(ConfigError, match=r"unknown symbol 'FDAX'"):
        get_instrument("FDAX")  # the shipped book alone does not know it


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        (
            "instruments:\n  X: {tick_size: -1, point_value: 1, session: cme_globex}\n",
            r"instruments\.X\.tick_size",
        ),
        ("instruments:\n  X: {tick_size: 1, point_value: 1, session: lunar}\n", r"unknown session 'lunar'"),
        ("instruments:\n  X: {tick_size: 1, point_value: 1, session: cme_globex, colour: red}\n", r"colour"),
        ("instrumnets: {}\n", r"unknown top-level keys \['instrumnets'\]"),
        ("- a\n- b\n", r"is a mapping"),
        ("instruments: [1, 2]\n", r"instruments must be a mapping"),
        ("instruments:\n  X: {tick_size: 1, point_value: 1, session: cme_globex, costs: some}\n", r"costs"),
        ("sessions: {a: [\n", r"cannot read"),
    ],
)
def test_bad_instrument_files_name_the_file_and_field(tmp_path: Path, text: str, pattern: str) -> None:
    path = _write(tmp_path / "bad.yaml", text)
    with pytest.raises(ConfigError, match=pattern) as info:
        get_instrument("X", instruments=path)
    assert "bad.yaml" in str(info.value)
