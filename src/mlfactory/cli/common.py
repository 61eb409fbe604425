"""Shared CLI plumbing: stderr console, JSON output, user-error handling, option parsing."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console

from mlfactory.errors import ConfigError, MlfactoryError

console = Console(stderr=True, highlight=False)
F = TypeVar("F", bound=Callable[..., Any])


def user_errors(fn: F) -> F:
    """Turn ``MlfactoryError`` into a one-paragraph message on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except MlfactoryError as exc:
            console.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
            raise typer.Exit(code=2) from None

    return wrapper  # type: ignore[return-value]


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")
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
