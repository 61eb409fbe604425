"""Shared CLI plumbing: stderr console, strict JSON output, the one error boundary, option parsing.

Every command runs inside :func:`guard` (``cli/app.py`` applies it to every registered command, so
a new command cannot miss it). A user mistake becomes a one-paragraph message on stderr and exit
code 2; an unexpected exception (a bug) prints a short message and exits 1, with the traceback only
when ``MLFACTORY_DEBUG=1``.
"""

from __future__ import annotations

import functools
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
import typer.exceptions
from rich.console import Console
from rich.markup import escape

from mlfactory.errors import ConfigError, MlfactoryError, validation_summary

console = Console(stderr=True, highlight=False)
F = TypeVar("F", bound=Callable[..., Any])
USER_ERROR = 2
BUG = 1
DEBUG_ENV = "MLFACTORY_DEBUG"
_GUARDED = "__mlfactory_guarded__"


def _validation_message(exc: Exception) -> str:
    return f"invalid {getattr(exc, 'title', 'value')}: {validation_summary(exc, limit=6)}"


def _artifact_path(exc: BaseException) -> Path | None:
    """The innermost file an exception was reading, judged from the frames of mlfactory code."""
    tb = exc.__traceback__
    found: Path | None = None
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_globals.get("__name__", "").startswith("mlfactory"):
            for value in frame.f_locals.values():
                if isinstance(value, Path) and value.suffix in (".json", ".parquet") and value.is_file():
                    found = value
        tb = tb.tb_next
    return found


def user_message(exc: BaseException) -> str | None:
    """The one-paragraph message for a user mistake, or ``None`` when ``exc`` is a bug."""
    from pydantic import ValidationError

    if isinstance(exc, MlfactoryError):
        return str(exc)
    if isinstance(exc, ValidationError):
        return _validation_message(exc)
    if isinstance(exc, OSError):
        name = exc.filename or ""
        what = {
            IsADirectoryError: "is a directory where a file is expected",
            NotADirectoryError: "a part of this path is a file where a directory is expected",
            PermissionError: "permission denied; choose a location you can read and write",
            FileNotFoundError: "no such file or directory",
            FileExistsError: "already exists as a file; choose another path",
        }.get(type(exc), exc.strerror or str(exc))
        return f"{name}: {what}" if name else f"input/output error: {what}"
    if isinstance(exc, UnicodeDecodeError):
        return f"a file given to this command is not UTF-8 text (a binary file?): {exc.reason}"
    if _is_corrupt_artifact(exc):
        from mlfactory.jsonio import rebuild_hint

        path = _artifact_path(exc)
        if path is None:
            return f"a data file is unreadable or corrupt ({type(exc).__name__}: {exc})"
        return f"{path}: unreadable or corrupt ({type(exc).__name__}); {rebuild_hint(path)}"
    return None


def _is_corrupt_artifact(exc: BaseException) -> bool:
    import json

    if isinstance(exc, json.JSONDecodeError):
        return True
    mod = type(exc).__module__
    return mod.startswith("polars") or mod.startswith("pyarrow")


def report_exception(exc: BaseException) -> int:
    """Print the message for ``exc`` on stderr; the exit code: 2 for a user mistake, 1 for a bug."""
    msg = user_message(exc)
    if msg is not None:
        console.print(f"[bold red]error:[/] {escape(msg)}", soft_wrap=True)
        if os.environ.get(DEBUG_ENV):
            traceback.print_exception(exc, file=sys.stderr)
        return USER_ERROR
    console.print(
        f"[bold red]internal error[/] ({escape(type(exc).__name__)}: {escape(str(exc)[:300])}). "
        f"This is a bug in mlfactory; rerun with {DEBUG_ENV}=1 for the traceback and report it.",
        soft_wrap=True,
    )
    if os.environ.get(DEBUG_ENV):
        traceback.print_exception(exc, file=sys.stderr)
    return BUG


def guard(fn: F) -> F:
    """The error boundary around one command: messages for user mistakes (exit 2), bugs exit 1."""
    if getattr(fn, _GUARDED, False):
        return fn

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (typer.exceptions.Exit, typer.exceptions.Abort, typer.exceptions.TyperException):
            raise  # typer's own exits and usage errors (typer >= 0.2x vendors click as typer._click)
        except Exception as exc:  # the boundary: every exception becomes a message and an exit code
            raise typer.Exit(code=report_exception(exc)) from None

    setattr(wrapper, _GUARDED, True)
    return wrapper  # type: ignore[return-value]


user_errors = guard  # the name command modules use; app.py also applies it to every command


def guard_all(app: typer.Typer) -> typer.Typer:
    """Apply :func:`guard` to every command of ``app`` and of its sub-apps (idempotent)."""
    for info in app.registered_commands:
        if info.callback is not None:
            info.callback = guard(info.callback)
    for group in app.registered_groups:
        if group.typer_instance is not None:
            guard_all(group.typer_instance)
    return app


def emit_json(obj: Any, reasons: Any = None) -> None:
    """One strict JSON object on stdout (non-finite numbers → null + ``<key>_reason``)."""
    from mlfactory.jsonio import dumps, metric_reason

    sys.stdout.write(dumps(obj, reasons or metric_reason) + "\n")
    sys.stdout.flush()


def parse_key_values(items: list[str] | None, option: str) -> dict[str, str]:
    """``["a=1", "b=x"]`` → ``{"a": "1", "b": "x"}``; malformed items name the option."""
    out: dict[str, str] = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"{option} {item!r}: expected KEY=VALUE")
        k, v = item.split("=", 1)
        if not k.strip():
            raise ConfigError(f"{option} {item!r}: empty key")
        out[k.strip()] = v.strip()
    return out


def progress(msg: str) -> None:
    console.print(f"[dim]›[/] {msg}")


def device_params(device: str | None, models: list[str], prefixed: bool = False) -> list[str]:
    """``--device`` as ``device=...`` overrides for the models that have a device parameter."""
    if device is None:
        return []
    from mlfactory.models.registry import get_model_class

    if device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"--device {device!r}: use auto, cpu or cuda")
    takers = [m for m in models if "device" in get_model_class(m).Params.model_fields]
    return [f"{m}.device={device}" if prefixed else f"device={device}" for m in takers]


def fmt_number(value: Any, spec: str) -> str:
    """``format(value, spec)``, or "—" when the value is missing or not finite."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or value != value
        or abs(value) == float("inf")
    ):
        return "—"
    return format(value, spec)


WIDE = 200  # off a terminal (pipes, files, CI) rich would squash tables to 80 columns


def stdout_console() -> Console:
    """A console on stdout for human-readable results (tables): ``mlfactory models > f`` works."""
    return Console(highlight=False, width=None if sys.stdout.isatty() else WIDE)
