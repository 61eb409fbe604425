"""One writer per artifact: an OS file lock beside the artifact, with a note of who holds it.

``writer_lock(target, timeout=…)`` takes ``.<name>.lock`` in the target's parent directory
(``filelock``, released by the OS when the holder dies, even on SIGKILL). While held, a JSON note
``.<name>.lock.json`` records the holder's pid, command line and start time; a second writer that
cannot take the lock within ``timeout`` seconds (``$MLFACTORY_LOCK_TIMEOUT``, default 30) gets an ``ArtifactError`` that quotes the note.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from mlfactory.errors import ArtifactError, ConfigError

DEFAULT_TIMEOUT_S = 30.0
TIMEOUT_ENV = "MLFACTORY_LOCK_TIMEOUT"  # seconds a writer waits for another one, when the caller sets none


def default_timeout() -> float:
    raw = os.environ.get(TIMEOUT_ENV)
    if raw is None:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{TIMEOUT_ENV}={raw!r}: expected a number of seconds") from None
    if value < 0:
        raise ConfigError(f"{TIMEOUT_ENV}={raw!r}: expected a number of seconds >= 0")
    return value


def lock_paths(target: Path) -> tuple[Path, Path]:
    target = Path(target)
    return target.parent / f".{target.name}.lock", target.parent / f".{target.name}.lock.json"


def lock_holder(target: Path) -> dict[str, object] | None:
    """The note of the process holding ``target``'s lock, or None when there is none to read."""
    _, note = lock_paths(target)
    try:
        return json.loads(note.read_text())
    except (OSError, json.JSONDecodeError):
        return None


@contextmanager
def writer_lock(
    target: Path, *, timeout: float = DEFAULT_TIMEOUT_S, what: str = "artifact"
) -> Iterator[None]:
    """Hold the writer lock of ``target`` for the block; wait at most ``timeout`` seconds for it."""
    from filelock import FileLock, Timeout

    lock_file, note = lock_paths(target)
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lock_file))
    try:
        lock.acquire(timeout=timeout)
    except Timeout:
        holder = lock_holder(target) or {}
        who = (
            f"pid {holder.get('pid')} running `{holder.get('command')}` since {holder.get('since')}"
            if holder
            else "another process (no holder note)"
        )
        raise ArtifactError(
            f"{target}: the {what} is being written by {who}; waited {timeout:g} s. Wait for it to finish, "
            f"or stop that process (a dead holder releases the lock by itself)"
        ) from None
    try:
        note.write_text(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
                    "since": datetime.now(UTC).isoformat(timespec="seconds"),
                }
            )
        )
        yield
    finally:
        note.unlink(missing_ok=True)
        lock.release()
