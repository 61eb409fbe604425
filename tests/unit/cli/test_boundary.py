"""The one error boundary: every command is guarded; messages for mistakes (2), short notes for bugs (1)."""

from __future__ import annotations

import json

import pytest
import typer

from mlfactory.cli.app import app
from mlfactory.cli.common import BUG, USER_ERROR, guard, guard_all, report_exception, user_message
from mlfactory.errors import ConfigError


def _callbacks(t: typer.Typer):
    for info in t.registered_commands:
        yield info.callback
    for group in t.registered_groups:
        yield from _callbacks(group.typer_instance)


def test_every_registered_command_runs_inside_the_boundary():
    callbacks = list(_callbacks(app))
    assert len(callbacks) >= 11
    assert all(getattr(cb, "__mlfactory_guarded__", False) for cb in callbacks)


def test_guard_all_wraps_a_command_registered_without_the_decorator():
    extra = typer.Typer()

    @extra.command()
    def boom() -> None:
        raise ConfigError("bad key x")

    guard_all(extra)
    from typer.testing import CliRunner

    result = CliRunner().invoke(extra, [])
    assert result.exit_code == USER_ERROR and "bad key x" in result.stderr


def test_guard_is_idempotent():
    def f() -> None: ...

    once = guard(f)
    assert guard(once) is once


@pytest.mark.parametrize(
    ("exc", "needle"),
    [
        (ConfigError("x.yaml: bad"), "x.yaml: bad"),
        (PermissionError(13, "Permission denied", "/root/out"), "/root/out: permission denied"),
        (IsADirectoryError(21, "Is a directory", "/tmp"), "/tmp: is a directory"),
        (json.JSONDecodeError("Expecting value", "{", 1), "unreadable or corrupt"),
        (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "x"), "not UTF-8"),
    ],
)  # fmt: skip
def test_user_mistakes_have_messages(exc, needle):
    assert needle in user_message(exc)


def test_pydantic_validation_error_is_a_message():
    from mlfactory.config import PipelineConfig

    with pytest.raises(Exception) as info:
        PipelineConfig.model_validate({"seed": -1})
    msg = user_message(info.value)
    assert msg is not None and "seed" in msg


def test_bugs_exit_1_and_the_traceback_needs_the_debug_variable(monkeypatch, capsys):
    try:
        raise KeyError("internal")
    except KeyError as exc:
        monkeypatch.delenv("MLFACTORY_DEBUG", raising=False)
        assert report_exception(exc) == BUG
        quiet = capsys.readouterr().err
        monkeypatch.setenv("MLFACTORY_DEBUG", "1")
        assert report_exception(exc) == BUG
        loud = capsys.readouterr().err
    assert "internal error" in quiet and "Traceback" not in quiet
    assert "Traceback" in loud
