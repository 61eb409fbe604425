"""``mlfactory backtest --walk-forward``: re-fit on the past, predict the next days, stitch, costed backtest."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mlfactory.cli.common import device_params, emit_json, fmt_number, progress, stdout_console, user_errors
from mlfactory.cli.options import Seed
from mlfactory.cli.options_executor import ExecutorKind, RayAddress, Workers
from mlfactory.tracking import tracked


@user_errors
@tracked("backtest")
def backtest(
    run: Annotated[Path, typer.Option("--run", "-r", help="run directory made by `pipeline run`")],
    horizon: Annotated[int, typer.Option("--horizon", "-H", help="label horizon in decision bars")],
    train_days: Annotated[int, typer.Option("--train-days", help="trading days each step trains on")],
    test_days: Annotated[int, typer.Option("--test-days", help="trading days each step predicts")],
    model: Annotated[str | None, typer.Option("--model", "-m", help="a registered model")] = None,
    recipe: Annotated[
        str | None,
        typer.Option("--recipe", help="an ensemble recipe (the whole stack is re-fitted per step)"),
    ] = None,
    walk_forward: Annotated[
        bool, typer.Option("--walk-forward", help="re-fit every step (the only mode; required)")
    ] = False,
    refit_every: Annotated[
        int | None, typer.Option("--refit-every", help="trading days between re-fits (default: --test-days)")
    ] = None,
    expanding: Annotated[
        bool, typer.Option("--expanding", help="train on every day before the step, not the last N")
    ] = False,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="[MODEL.]KEY=VALUE (repeatable)")
    ] = None,
    executor: ExecutorKind = "inprocess",
    workers: Workers = 1,
    ray_address: RayAddress = None,
    seed: Seed = None,
    device: Annotated[str | None, typer.Option("--device", help="neural models: auto | cpu | cuda")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON summary on stdout")] = False,
) -> None:
    """Walk-forward re-fit backtest of a model or an ensemble recipe over most of the run's days."""
    from mlfactory.errors import ConfigError
    from mlfactory.training.recipes import load_recipe
    from mlfactory.training.walk_forward import WalkForwardSpec, run_walk_forward

    if not walk_forward:
        raise ConfigError(
            "backtest: pass --walk-forward (re-fit per step); single-fit test metrics come from `train`"
        )
    spec = WalkForwardSpec(horizon, train_days, test_days, refit_every, expanding)
    ensemble = load_recipe(recipe).spec(horizon) if recipe else None
    names = list(ensemble.bases) if ensemble else [model] if model else []
    params = [*(param or []), *device_params(device, names, prefixed=ensemble is not None)]
    if ensemble is not None:
        from dataclasses import replace

        ensemble = replace(ensemble, params=(*ensemble.params, *params))
    result = run_walk_forward(
        run, spec, model=model, ensemble=ensemble, params=params, seed=seed, executor=executor,
        workers=workers,
        ray_address=ray_address, progress=progress,
    )  # fmt: skip
    head = result.metrics.headline("oos")
    summary = {
        "directory": str(result.directory),
        "model": result.metrics.model,
        "coverage": result.metrics.coverage,
    }  # type: ignore[attr-defined]
    summary |= {"oos": head, "steps": result.steps}
    if json_out:
        emit_json(summary)
        return
    console = stdout_console()
    table = Table(
        "step",
        "test days",
        "train rows",
        "predicted",
        "log loss",
        "sharpe",
        title=f"walk-forward {result.metrics.model}",
    )
    for s in result.steps:
        table.add_row(
            str(s["step"]), " … ".join(s["test_days"]), str(s["rows"]["train"]), str(s["predicted"]),
            fmt_number(s.get("log_loss"), ".4f"), fmt_number(s.get("sharpe"), ".2f"),
        )  # fmt: skip
    console.print(table)
    cov = summary["coverage"]
    console.print(
        f"out of sample: {cov['out_of_sample']:,} of {cov['decisions']:,} decisions ({cov['fraction']:.0%}); "
        f"log loss {fmt_number(head['log_loss'], '.4f')} (prior {fmt_number(head['prior_log_loss'], '.4f')}), "
        f"Sharpe {head['sharpe_text']} (annualised), P&L {fmt_number(head['total_pnl_currency'], ',.0f')} "
        f"(contract currency, {'no costs' if head['costs'] == 'none' else 'net of costs'})"
    )
    console.print(f"backtest written to {result.directory}")
