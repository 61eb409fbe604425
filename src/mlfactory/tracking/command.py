"""Record one command to MLflow: a parent run around it, a child per model, ensemble, cv model or backtest.

``track_command`` opens the store *before* the command runs (a store that cannot be opened stops
the command before any work is done), starts the parent run, and after the command finishes
records every result file the command wrote into the run directory (see ``run_records``). A
command that fails leaves its parent run FAILED with the error as a tag. ``tracked`` is the same
as a decorator for a typer command with a ``run`` parameter; it adds ``--tracking-uri`` and
``--no-track`` to the command's options.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from mlfactory.tracking.headline import is_headline
from mlfactory.tracking.options import NoTrack, TrackingUri
from mlfactory.tracking.store import Store, open_store, resolve_tracking_uri, store_error

F = TypeVar("F", bound=Callable[..., Any])
OUTPUTS = {
    "model": "models/*/metrics.json",
    "ensemble": "ensembles/*/metrics.json",
    "cv": "cv/summary_*.json",
    "backtest": "backtests/*/metrics.json",
}
NAME_ARGS = ("model", "models", "recipe", "base_models")
SINGLE_RESULT_KINDS = ("model", "ensemble", "backtest")
MAX_ERROR_TAG = 2000


def output_files(run: Path) -> dict[Path, tuple[int, int]]:
    """Every result file of the run directory with its (mtime_ns, size)."""
    out = {}
    for pattern in OUTPUTS.values():
        for path in sorted(Path(run).glob(pattern)):
            st = path.stat()
            out[path] = (st.st_mtime_ns, st.st_size)
    return out


def changed_outputs(run: Path, before: dict[Path, tuple[int, int]]) -> dict[str, list[Path]]:
    """Result files written (new or rewritten) since ``before``, by kind."""
    out: dict[str, list[Path]] = {}
    for kind, pattern in OUTPUTS.items():
        for path in sorted(Path(run).glob(pattern)):
            st = path.stat()
            if before.get(path) != (st.st_mtime_ns, st.st_size):
                out.setdefault(kind, []).append(path)
    return out


@dataclass
class CommandRun:
    """A command being recorded: its store, parent run and the run directory's state before it ran."""

    store: Store
    command: str
    run: Path
    parent_id: str
    before: dict[Path, tuple[int, int]]
    recipe: str | None = None
    started: float = field(default_factory=time.perf_counter)
    child_ids: list[str] = field(default_factory=list)


@contextmanager
def track_command(
    command: str,
    run: Path,
    *,
    tracking_uri: str | None = None,
    no_track: bool = False,
    cli_args: dict[str, Any] | None = None,
    recipe: str | None = None,
) -> Iterator[CommandRun | None]:
    """Record the command run inside the ``with`` block (nothing at all with ``no_track``)."""
    if no_track:
        yield None
        return
    store = open_store(resolve_tracking_uri(run, tracking_uri))
    session = _start(store, command, Path(run), cli_args or {}, recipe)
    try:
        yield session
    except BaseException as exc:
        _fail(session, exc)
        raise
    finish(session)


def tracked(command: str) -> Callable[[F], F]:
    """Decorate a typer command (it must take ``run``) so each invocation is recorded."""

    def decorate(fn: F) -> F:
        sig = inspect.signature(fn, eval_str=True)
        extra = [
            inspect.Parameter("tracking_uri", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=TrackingUri),
            inspect.Parameter("no_track", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=NoTrack),
        ]  # fmt: skip

        @functools.wraps(fn)
        def wrapper(
            *args: Any, tracking_uri: str | None = None, no_track: bool = False, **kwargs: Any
        ) -> Any:
            arguments = sig.bind_partial(*args, **kwargs).arguments
            if not (Path(arguments["run"]) / "manifest.json").is_file():
                return fn(*args, **kwargs)  # not a run directory: the command says so; no store is made
            with track_command(
                command,
                Path(arguments["run"]),
                tracking_uri=tracking_uri,
                no_track=no_track,
                cli_args=arguments,
                recipe=arguments.get("recipe"),
            ):
                return fn(*args, **kwargs)

        params = [*sig.parameters.values(), *extra]
        wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in params}
        return wrapper  # type: ignore[return-value]

    return decorate


def finish(session: CommandRun) -> None:
    """Record what the command wrote and close the parent run; ``TrackingError`` when that fails."""
    from mlfactory.tracking.recorder import log_results, write_record

    try:
        children, parent = _result_records(session)
        for child in children:
            session.child_ids.append(write_record(session.store, child, session.parent_id))
        parent.metrics["seconds"] = round(time.perf_counter() - session.started, 3)
        log_results(session.store, session.parent_id, parent)
        session.store.client.set_terminated(session.parent_id, "FINISHED")
    except Exception as exc:
        error = store_error(
            session.store.uri,
            f"the command finished and its results are in {session.run}, but recording them failed "
            f"({type(exc).__name__}: {exc})",
        )
        _fail(session, error)
        raise error from exc


def _start(store: Store, command: str, run: Path, cli_args: dict[str, Any], recipe: str | None) -> CommandRun:
    from mlfactory.tracking.record import RunRecord
    from mlfactory.tracking.recorder import start_run
    from mlfactory.tracking.run_records import RunContext

    before = output_files(run)
    ctx = RunContext.of(run)
    name = " ".join([command, *(str(cli_args[k]) for k in NAME_ARGS if cli_args.get(k))])
    horizon = cli_args.get("horizon")
    record = RunRecord(f"{name} h{horizon}" if horizon else name)
    record.add_tags(ctx.tags())
    record.add_tags(
        {"kind": "command", "command": command, "recipe": recipe, "horizon": horizon, "timeframe": ctx.decision_timeframe}
    )  # fmt: skip
    record.add_params(ctx.params())
    record.add_params({f"cli.{k}": _arg(v) for k, v in sorted(cli_args.items())})
    try:
        parent_id = start_run(store, record)
    except Exception as exc:
        raise store_error(store.uri, f"cannot start a run ({type(exc).__name__}: {exc})") from exc
    return CommandRun(store, command, run, parent_id, before, recipe)


def _result_records(session: CommandRun):
    from mlfactory.tracking.record import Artifact, RunRecord
    from mlfactory.tracking.run_records import (
        RunContext,
        backtest_record,
        cv_records,
        ensemble_record,
        model_record,
        read_json,
    )

    ctx = RunContext.of(session.run)
    changed = changed_outputs(session.run, session.before)
    children: list[RunRecord] = [model_record(ctx, p.parent) for p in changed.get("model", [])]
    children += [ensemble_record(ctx, p.parent, session.recipe) for p in changed.get("ensemble", [])]
    children += [backtest_record(ctx, p.parent, session.recipe) for p in changed.get("backtest", [])]
    parent = RunRecord(session.command)
    for summary in changed.get("cv", []):
        children += cv_records(ctx, summary)
        parent.add_artifacts(summary, folder="cv")
        folds_file = read_json(summary).get("folds_file")
        if folds_file:
            parent.add_artifacts(Path(folds_file), folder="cv")
    singles = [c for c in children if c.tags.get("kind") in SINGLE_RESULT_KINDS]
    if len(singles) == 1:
        parent.metrics.update({k: v for k, v in singles[0].metrics.items() if is_headline(k)})
    manifest = ctx.root / "manifest.json"
    if manifest.is_file():  # renamed: a manifest.json would make the artifact folder look like a run
        parent.artifacts.append(Artifact.of(manifest, "run_manifest.json"))
    parent.add_artifacts(ctx.root / "report.html")
    parent.add_tags({"results": len(children)})
    return children, parent


def _fail(session: CommandRun, exc: BaseException) -> None:
    """Mark the parent run FAILED (KILLED on interrupt) with the error; a store error is noted on ``exc``."""
    status = "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
    try:
        message = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_TAG]
        session.store.client.set_tag(session.parent_id, "error", message)
        session.store.client.set_terminated(session.parent_id, status)
    except Exception as store_exc:
        exc.add_note(f"(the MLflow run {session.parent_id} could not be marked {status}: {store_exc})")


def _arg(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return value
