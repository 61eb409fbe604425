"""Ensemble benchmark: the standard recipe end to end on the real sample, with a per-stage breakdown.

    .venv/bin/python benchmarks/bench_ensemble.py [--data ../shared/data/MES_1m.parquet] [--epochs 5] [--folds 5]

Runs `pipeline run`, then `train-ensemble --recipe standard` (catboost 15m + MTF, tcn 5m windows,
patchtst on 1m/5m/15m raw OHLCV streams → logistic): OOF on the shared purged folds, the meta-learner,
the full retrain and the evaluation. Prints wall time, peak memory and the stage timings. Neural
epochs are capped with --epochs (early stopping usually stops sooner).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import measure

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "MES_1m.parquet"


def _run(data: str, out: str, epochs: int, folds: int, horizon: int) -> dict:
    from mlfactory.config import load_pipeline_config
    from mlfactory.data.instruments import get_instrument
    from mlfactory.pipeline import run_pipeline
    from mlfactory.training.ensemble import EnsembleSpec, train_ensemble
    from mlfactory.training.recipes import load_recipe

    t = time.perf_counter()
    run_pipeline(Path(data), get_instrument("MES"), load_pipeline_config(), Path(out))
    pipeline_s = time.perf_counter() - t
    recipe = load_recipe("standard")
    params = (
        *recipe.param_overrides(),
        f"tcn.epochs={epochs}",
        f"patchtst.epochs={epochs}",
        "tcn.progress=false",
        "patchtst.progress=false",
    )
    spec = EnsembleSpec(tuple(recipe.bases), recipe.meta_learner, horizon, params, folds, name="standard")
    t = time.perf_counter()
    metrics = train_ensemble(Path(out), spec).metrics.model_dump()
    return {
        "pipeline": pipeline_s,
        "ensemble": time.perf_counter() - t,
        "stages": metrics["timings_seconds"],
        "guard": metrics["guard"],
        "test_log_loss": metrics["classification"]["test"]["model"]["log_loss"],
        "prior": metrics["classification"]["test"]["prior"]["log_loss"],
        "coverage": metrics["stack_coverage"]["oof"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=REAL)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--horizon", type=int, default=20)
    args = ap.parse_args()
    if not args.data.is_file():
        raise SystemExit(f"{args.data} not found; pass --data")
    with tempfile.TemporaryDirectory() as tmp:
        wall, peak, res = measure(_run, str(args.data), f"{tmp}/run", args.epochs, args.folds, args.horizon)
    print(
        f"standard ensemble (catboost + tcn + patchtst → logistic), h{args.horizon}, {args.folds} folds, ≤{args.epochs} epochs"
    )
    print(f"data: {args.data.name}")
    print(
        f"wall {wall:.1f} s (pipeline {res['pipeline']:.1f} s, ensemble {res['ensemble']:.1f} s), peak {peak:,.0f} MiB"
    )
    print("ensemble stages: " + ", ".join(f"{k} {v:.1f} s" for k, v in res["stages"].items()))
    g = res["guard"]
    print(
        f"guard (val log loss): meta {g['meta']:.4f}, weighted {g['weighted_average']:.4f}, best base {g['best_base_name']} {g['best_base']:.4f} → {g['kept']}"
    )
    print(
        f"test log loss {res['test_log_loss']:.4f} (prior {res['prior']:.4f}); OOF stack rows {res['coverage']['rows_all_bases']:,} of {res['coverage']['clock_rows']:,}"
    )


if __name__ == "__main__":
    main()
