"""``mlfactory train-ensemble``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mlfactory.cli.common import device_params, emit_json, fmt_number, progress, stdout_console, user_errors
from mlfactory.cli.options import Seed
from mlfactory.cli.options_executor import ExecutorKind, RayAddress, Workers
from mlfactory.errors import ConfigError
from mlfactory.tracking import tracked


@user_errors
@tracked("train-ensemble")
def train_ensemble(
    run: Annotated[Path, typer.Option("--run", "-r", help="run directory made by `pipeline run`")],
    horizon: Annotated[
        int | None, typer.Option("--horizon", "-H", help="label horizon (default: the recipe's)")
    ] = None,
    base_models: Annotated[
        str | None, typer.Option("--base-models", help="comma-separated bases, e.g. catboost,tcn,patchtst")
    ] = None,
    meta_learner: Annotated[
        str | None, typer.Option("--meta-learner", help="meta-learner on the stacked OOF matrix")
    ] = None,
    recipe: Annotated[
        str | None, typer.Option("--recipe", help="configs/ensembles/NAME.yaml or a path")
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="MODEL.KEY=VALUE override (repeatable)")
    ] = None,
    n_splits: Annotated[
        int | None, typer.Option("--n-splits", help="purged folds for the OOF predictions")
    ] = None,
    coverage: Annotated[
        str | None, typer.Option("--coverage", help="rows a base cannot predict: drop | impute")
    ] = None,
    fallback: Annotated[
        str | None,
        typer.Option(
            "--fallback",
            help="a decision where a base cannot predict yet (drop coverage): available (the bases that "
            "can) | none (no prediction)",
        ),
    ] = None,
    no_guard: Annotated[
        bool, typer.Option("--no-guard", help="keep the meta-learner even where it loses on validation")
    ] = False,
    keep: Annotated[
        str | None,
        typer.Option("--keep", help="serve this guard candidate: meta | weighted_average | best_base"),
    ] = None,
    executor: ExecutorKind = "inprocess",
    workers: Workers = 1,
    ray_address: RayAddress = None,
    seed: Seed = None,
    device: Annotated[str | None, typer.Option("--device", help="neural bases: auto | cpu | cuda")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON summary on stdout")] = False,
) -> None:
    """Train a heterogeneous stacked ensemble: per-base routing, shared purged OOF, 2D meta-learner, guard."""
    console = stdout_console()
    from mlfactory.training.ensemble import EnsembleSpec
    from mlfactory.training.ensemble import train_ensemble as run_ensemble
    from mlfactory.training.recipes import load_recipe

    rec = load_recipe(recipe) if recipe else None
    bases = (
        [b.strip() for b in base_models.split(",") if b.strip()]
        if base_models
        else (rec.bases if rec else None)
    )
    meta = meta_learner or (rec.meta_learner if rec else None)
    h = horizon or (rec.horizon if rec else None)
    if not bases or not meta or not h:
        raise ConfigError(
            "train-ensemble needs --base-models, --meta-learner and --horizon (or a --recipe that sets them)"
        )
    param = [*(param or []), *device_params(device, list(bases), prefixed=True)]
    spec = EnsembleSpec(
        bases=tuple(bases),
        meta_learner=meta,
        horizon=h,
        params=tuple((rec.param_overrides() if rec else []) + (param or [])),
        n_splits=n_splits or (rec.n_splits if rec else 5),
        coverage=coverage or (rec.coverage if rec else "drop"),  # type: ignore[arg-type]
        fallback=fallback or (rec.fallback if rec else "available"),  # type: ignore[arg-type]
        meta_features=rec.meta_features if rec else True,
        guard=not no_guard and (rec.guard if rec else True),
        keep=keep,
        name=rec.name if rec and not base_models else None,
    )
    result = run_ensemble(
        run, spec, seed=seed, executor=executor, workers=workers, ray_address=ray_address, progress=progress
    )
    metrics = result.metrics.model_dump() | {"directory": str(result.directory)}
    summary = {
        "ensemble": metrics["ensemble"],
        "directory": metrics["directory"],
        "bases": metrics["bases"],
        "meta_learner": metrics["meta_learner"],
        "oof_log_loss": metrics["oof_log_loss"],
        "base_test_log_loss": metrics["base_test_log_loss"],
        "guard": metrics["guard"],
        "oof_correlation": metrics["oof_correlation"],
        "test": result.metrics.headline("test"),
        "stack_coverage": metrics["stack_coverage"],
        "timings_seconds": metrics["timings_seconds"],
    }
    if json_out:
        emit_json(summary)
        return
    t = Table("base", "OOF log loss", "test log loss", title=f"ensemble {metrics['ensemble']}")
    for b in metrics["bases"]:
        t.add_row(
            b,
            fmt_number(metrics["oof_log_loss"][b], ".4f"),
            fmt_number(metrics["base_test_log_loss"][b], ".4f"),
        )
    console.print(t)
    g = metrics["guard"]
    console.print(
        f"guard on validation (log loss): meta {g['meta']:.4f}, weighted average {g['weighted_average']:.4f}, "
        f"best base ({g['best_base_name']}) {g['best_base']:.4f} → kept [bold]{g['kept']}[/]"
    )
    console.print(
        f"ensemble test log loss {fmt_number(summary['test']['log_loss'], '.4f')} "
        f"(prior {fmt_number(summary['test']['prior_log_loss'], '.4f')}), Sharpe {summary['test']['sharpe_text']} (annualised)"
    )
    corr = metrics["oof_correlation"]
    c = Table("", *corr["names"], title="OOF correlation (p_long − p_short)")
    for name, row in zip(corr["names"], corr["matrix"], strict=True):
        c.add_row(name, *[f"{v:.2f}" for v in row])
    console.print(c)
    console.print(f"bundle written to {metrics['directory']}")
