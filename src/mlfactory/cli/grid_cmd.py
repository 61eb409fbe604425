"""``mlfactory grid``: the factory in one command — OOF for every model × horizon, ensembles, leaderboard."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from mlfactory.cli.common import console, emit_json, progress, user_errors
from mlfactory.cli.options_executor import ExecutorKind, RayAddress, Workers
from mlfactory.errors import ConfigError
from mlfactory.tracking import tracked


def parse_horizons(spec: str) -> list[int]:
    try:
        out = [int(h) for h in spec.split(",") if h.strip()]
    except ValueError as exc:
        raise ConfigError(f"--horizons {spec!r}: expected comma-separated integers, e.g. 5,10,15,20") from exc
    if not out or min(out) < 1:
        raise ConfigError(f"--horizons {spec!r}: give positive horizons, e.g. 5,10,15,20")
    return list(dict.fromkeys(out))


class JobsBar:
    """A rich progress bar on stderr: jobs done / running / left, with an ETA."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(
            TextColumn("grid jobs"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(
                "running {task.fields[running]} · left {task.fields[left]} · cached {task.fields[cached]}"
            ),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
        )
        self.task: Any = None

    def __call__(self, p: Any) -> None:
        if self.task is None:
            self.bar.start()
            self.task = self.bar.add_task(
                "grid", total=p.total, completed=p.cached, running=0, left=0, cached=0
            )
        self.bar.update(
            self.task, completed=p.done, running=p.running, left=p.total - p.done, cached=p.cached
        )

    def stop(self) -> None:
        if self.task is not None:
            self.bar.stop()


@user_errors
@tracked("grid")
def grid(
    run: Annotated[Path, typer.Option("--run", "-r", help="run directory made by `pipeline run`")],
    models: Annotated[
        str, typer.Option("--models", help="comma-separated base models, or 'all' (every registered base)")
    ],
    horizons: Annotated[
        str, typer.Option("--horizons", help="comma-separated label horizons, e.g. 5,10,15,20")
    ],
    ensembles: Annotated[
        str | None,
        typer.Option("--ensembles", help="comma-separated recipes (configs/ensembles) or YAML paths"),
    ] = None,
    n_splits: Annotated[int, typer.Option("--n-splits", "-k", min=2, help="purged folds")] = 5,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="MODEL.KEY=VALUE or KEY=VALUE override (repeatable)"),
    ] = None,
    executor: ExecutorKind = "inprocess",
    workers: Workers = 1,
    ray_address: RayAddress = None,
    tune: Annotated[
        int,
        typer.Option("--tune", min=0, help="Optuna trials per model and horizon before its OOF (0 = none)"),
    ] = 0,
    tune_batch: Annotated[
        int,
        typer.Option("--tune-batch", min=1, help="trials run at once (the same batch gives the same study)"),
    ] = 4,
    force: Annotated[
        bool, typer.Option("--force", help="recompute every job, even those with a result")
    ] = False,
    seed: Annotated[int | None, typer.Option("--seed", help="seed (default: the run's)")] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="print the leaderboard as one JSON object")
    ] = False,
) -> None:
    """Every (model, horizon, fold) job on the executor, resumable; ensembles on top; the leaderboard."""
    from mlfactory.training.grid import parse_models, run_grid

    names = parse_models(models)
    recipes = [e.strip() for e in (ensembles or "").split(",") if e.strip()]
    bar = JobsBar()
    try:
        summary = run_grid(
            run, names, parse_horizons(horizons), ensembles=recipes, n_splits=n_splits, params=param or [],
            executor=executor, workers=workers, ray_address=ray_address, force=force, seed=seed,
            tune=tune, tune_batch=tune_batch, on_progress=bar, progress=progress,
        )  # fmt: skip
    finally:
        bar.stop()
    jobs = summary["jobs"]
    if json_out:
        emit_json(
            {
                "leaderboard": summary["leaderboard"],
                "jobs": jobs,
                "tuning": summary["tuning"],
                "run": summary["run"],
            }
        )
        return
    table = Table(
        "model", "H", "OOF log loss", "prior", "skill", "coverage", title="grid: bases by OOF log loss"
    )
    for r in summary["leaderboard"]["bases"]:
        table.add_row(
            r["model"], str(r["horizon"]), _f(r["oof_log_loss"]), _f(r["prior_log_loss"]), _f(r["skill"]),
            f"{r['coverage']:.1%}",
        )  # fmt: skip
    console.print(table)
    if summary["leaderboard"]["ensembles"]:
        et = Table("ensemble", "H", "test log loss", title="grid: ensembles")
        for r in summary["leaderboard"]["ensembles"]:
            et.add_row(r["name"], str(r["horizon"]), _f(r["log_loss"]))
        console.print(et)
    console.print(
        f"{jobs['total']} jobs ({jobs['computed']} computed, {jobs['cached']} reused) on {len(jobs['nodes'])} node(s); "
        f"wall {summary['wall_seconds']:.1f} s; summary in {summary['run']}/grid/summary.json"
    )


def _f(v: float | None) -> str:
    return "—" if v is None else f"{v:.4f}"
