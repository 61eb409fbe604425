"""``mlfactory train`` and ``mlfactory cv``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mlfactory.cli.common import (
    console,
    device_params,
    emit_json,
    fmt_number,
    progress,
    stdout_console,
    user_errors,
)
from mlfactory.cli.options import Seed
from mlfactory.cli.options_executor import ExecutorKind, RayAddress, Workers
from mlfactory.tracking import tracked

COVERAGE_WARNING = 0.90  # `cv` warns (stderr) when a model predicts fewer OOF decisions than this

Run = Annotated[Path, typer.Option("--run", "-r", help="run directory made by `pipeline run`")]
Horizon = Annotated[
    int, typer.Option("--horizon", "-H", help="label horizon in decision bars (one of the run's horizons)")
]
Params = Annotated[
    list[str] | None, typer.Option("--param", "-p", help="hyper-parameter override KEY=VALUE (repeatable)")
]
Json = Annotated[bool, typer.Option("--json", help="print one JSON summary on stdout")]
NJobs = Annotated[int, typer.Option("--n-jobs", help="threads/processes a model may use")]
Device = Annotated[
    str | None,
    typer.Option(
        "--device", help="neural models: auto (CUDA when available, mixed precision there) | cpu | cuda"
    ),
]


HEADLINE_FORMATS = (
    ("log_loss", ".4f"), ("prior_log_loss", ".4f"), ("balanced_accuracy", ".3f"),
)  # fmt: skip


@user_errors
@tracked("train")
def train(
    run: Run,
    model: Annotated[
        str, typer.Option("--model", "-m", help="registered model name (see `mlfactory models`)")
    ],
    horizon: Horizon,
    timeframe: Annotated[
        str | None, typer.Option("--timeframe", help="override the model's primary timeframe")
    ] = None,
    feature_set: Annotated[
        str | None, typer.Option("--feature-set", help="override the model's feature set")
    ] = None,
    param: Params = None,
    seed: Seed = None,
    n_jobs: NJobs = 1,
    device: Device = None,
    json_out: Json = False,
) -> None:
    """Train one model on the training split (early stopping on val) and evaluate it on val and test."""
    from mlfactory.training.train import train_model

    param = [*(param or []), *device_params(device, [model])]
    result = train_model(
        run, model, horizon, params=param or [], timeframe=timeframe, feature_set=feature_set,
        seed=seed, n_jobs=n_jobs, progress=progress,
    )  # fmt: skip
    summary = {
        "model": model,
        "horizon": horizon,
        "directory": str(result.directory),
        "rows": result.metrics.rows,  # type: ignore[attr-defined]
        "val": result.metrics.headline("val"),
        "test": result.metrics.headline("test"),
    }
    if json_out:
        emit_json(summary)
        return
    table = Table(
        "split",
        "log loss",
        "prior log loss",
        "bal. acc.",
        "Sharpe ± SE [95% CI]",
        "P&L (currency)",
        "trades",
        title=f"{model} h{horizon}",
    )
    for split in ("val", "test"):
        h = summary[split]
        table.add_row(
            split, *(fmt_number(h[k], f) for k, f in HEADLINE_FORMATS), h["sharpe_text"],
            fmt_number(h["total_pnl_currency"], ",.0f") + (" (no costs)" if h["costs"] == "none" else ""),
            str(h["trades"]),
        )  # fmt: skip
    stdout_console().print(table)
    stdout_console().print(f"model written to {result.directory}")


@user_errors
@tracked("cv")
def cv(
    run: Run,
    models: Annotated[str, typer.Option("--models", help="comma-separated model names")],
    horizon: Horizon,
    n_splits: Annotated[int, typer.Option("--n-splits", "-k", help="number of folds (CPCV: groups)")] = 5,
    method: Annotated[str, typer.Option("--method", help="purged | walk-forward | cpcv")] = "purged",
    test_groups: Annotated[int, typer.Option("--test-groups", help="CPCV: test groups per split")] = 2,
    tune: Annotated[int, typer.Option("--tune", help="Optuna trials per model (0 = no tuning)")] = 0,
    param: Params = None,
    executor: ExecutorKind = "inprocess",
    workers: Workers = 1,
    ray_address: RayAddress = None,
    seed: Seed = None,
    device: Device = None,
    json_out: Json = False,
) -> None:
    """Out-of-fold predictions for each model on the run's shared purged folds (optionally tuned)."""
    from mlfactory.training.cross_validate import run_cv

    names = [m.strip() for m in models.split(",") if m.strip()]
    param = [*(param or []), *device_params(device, names, prefixed=True)]
    summary = run_cv(
        run, names, horizon, n_splits=n_splits, method=method, test_groups=test_groups, tune=tune,
        params=param or [], executor=executor, workers=workers, ray_address=ray_address, seed=seed, progress=progress,
    )  # fmt: skip
    for name, s in summary["models"].items():
        if s["coverage"] < COVERAGE_WARNING:
            console.print(
                f"[yellow]warning:[/] {name} predicts only {s['coverage']:.1%} of the OOF decisions "
                f"(below {COVERAGE_WARNING:.0%}): warm-up or windows cost it the rest; see the run's "
                "features.*.mtf_skipped / warmup_skipped, or use more data"
            )
    if json_out:
        emit_json(summary)
        return
    table = Table("model", "OOF log loss", "prior", "coverage", "folds", title=f"{method} CV, h{horizon}")
    for name, s in summary["models"].items():
        table.add_row(
            name,
            f"{s['oof_log_loss']:.4f}",
            f"{s['prior_log_loss']:.4f}",
            f"{s['coverage']:.1%}",
            str(s["folds"]),
        )
    stdout_console().print(table)
