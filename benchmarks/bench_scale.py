"""How the grid scales with workers: processes vs Ray, 1 and 2 workers, on the real MES sample.

The grid is lightgbm, logistic, tcn and nbeats × 2 horizons × 5 purged folds (40 jobs) on
``../shared/data/MES_1m.parquet`` (54k one-minute bars). The dataset stage (``pipeline run``) runs
once; each configuration then runs ``run_grid(..., force=True)`` on its own copy of the run and
reports wall time, the speed-up over 1 worker, Ray's overhead against the process pool at the same
worker count, the peak memory of the whole process tree (driver, pool or raylet and workers, RSS
summed) and of the largest job, and whether its OOF files equal those of the first configuration.
Per-model mean job times are printed for projecting larger grids. Usage::

    python benchmarks/bench_scale.py [--bars 54160] [--workers 1,2] [--executors processes,ray]
                                     [--models lightgbm,logistic,tcn,nbeats] [--horizons 5,10]
                                     [--folds 5] [--epochs 2] [--estimators 200] [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import polars as pl
import psutil

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "MES_1m.parquet"
MiB = 2**20


class TreeMemory:
    """Peak RSS summed over this process and all its descendants (sampled every 50 ms)."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()

    def _rss(self) -> int:
        me = psutil.Process()
        total = me.memory_info().rss
        for child in me.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                continue
        return total

    def _loop(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self._rss())

    def __enter__(self) -> TreeMemory:
        self.peak = self._rss()
        self._t = threading.Thread(target=self._loop, daemon=True)
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()


def make_run(data: Path, bars: int, horizons: list[int], root: Path) -> Path:
    from mlfactory.config import load_pipeline_config
    from mlfactory.data.instruments import get_instrument
    from mlfactory.pipeline import run_pipeline

    src = root / "bars.parquet"
    pl.read_parquet(data).tail(bars).write_parquet(src)
    cfg = load_pipeline_config(overrides={"labels": {"horizons": horizons}})
    run_pipeline(src, get_instrument("MES"), cfg, root / "run")
    return root / "run"


def tiny_params(models: list[str], epochs: int, estimators: int) -> list[str]:
    from mlfactory.models.registry import get_model_class

    out = []
    for m in models:
        fields = get_model_class(m).Params.model_fields
        if "epochs" in fields:
            out += [f"{m}.epochs={epochs}", f"{m}.progress=false", f"{m}.device=cpu"]
        if "n_estimators" in fields:
            out.append(f"{m}.n_estimators={estimators}")
    return out


def one_config(base: Path, root: Path, kind: str, workers: int, args: argparse.Namespace) -> dict[str, Any]:
    from mlfactory.training.grid import run_grid

    run = shutil.copytree(
        base, root / f"{kind}_{workers}", ignore=shutil.ignore_patterns("jobs", "models", "grid")
    )
    models = args.models.split(",")
    t0 = time.perf_counter()
    with TreeMemory() as mem:
        summary = run_grid(
            run, models, [int(h) for h in args.horizons.split(",")], n_splits=args.folds,
            params=tiny_params(models, args.epochs, args.estimators), executor=kind, workers=workers, force=True,
        )  # fmt: skip
    wall = time.perf_counter() - t0
    records = json.loads((run / "grid" / "summary.json").read_text())["job_records"]
    per_model: dict[str, list[float]] = {}
    for r in records:
        per_model.setdefault(r["model"], []).append(r["wall_seconds"])
    return {
        "executor": kind,
        "workers": workers,
        "wall_seconds": round(wall, 2),
        "jobs": summary["jobs"]["total"],
        "peak_tree_mib": round(mem.peak / MiB, 1),
        "peak_job_mib": round(summary["jobs"]["peak_rss_bytes_max"] / MiB, 1),
        "job_seconds_mean": {m: round(sum(v) / len(v), 3) for m, v in per_model.items()},
        "oof": {
            n: pl.read_parquet(Path(m["directory"]) / "oof.parquet") for n, m in summary["models"].items()
        },
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--bars", type=int, default=54_160)
    p.add_argument("--models", default="lightgbm,logistic,tcn,nbeats")
    p.add_argument("--horizons", default="5,10")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--workers", default="1,2")
    p.add_argument("--executors", default="processes,ray")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--estimators", type=int, default=200)
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    args = p.parse_args()
    if not args.data.is_file():
        raise SystemExit(f"{args.data}: not found; pass --data with a 1-minute MES parquet file")
    results = []
    with tempfile.TemporaryDirectory(prefix="bench_scale_") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        base = make_run(args.data, args.bars, [int(h) for h in args.horizons.split(",")], root)
        print(f"dataset: {args.bars:,} bars → run in {time.perf_counter() - t0:.1f} s", flush=True)
        for kind in args.executors.split(","):
            for w in (int(x) for x in args.workers.split(",")):
                r = one_config(base, root, kind, w, args)
                results.append(r)
                print(
                    f"{kind:>9} × {w}: {r['wall_seconds']:8.1f} s, peak tree {r['peak_tree_mib']:,.0f} MiB",
                    flush=True,
                )
    ref = results[0]
    for r in results:
        one = next(x for x in results if x["executor"] == r["executor"] and x["workers"] == 1)
        procs = next(
            (x for x in results if x["executor"] == "processes" and x["workers"] == r["workers"]), None
        )
        r["speedup"] = round(one["wall_seconds"] / r["wall_seconds"], 2)
        r["overhead_vs_processes"] = (
            round(r["wall_seconds"] / procs["wall_seconds"] - 1, 3) if procs else None
        )
        r["identical_oof"] = all(r["oof"][n].equals(f) for n, f in ref["oof"].items())
    rows = [{k: v for k, v in r.items() if k != "oof"} for r in results]
    if args.json:
        print(json.dumps({"bars": args.bars, "models": args.models, "horizons": args.horizons,
                          "folds": args.folds, "results": rows}, indent=2))  # fmt: skip
        return
    print(
        f"\n{'executor':>9} {'workers':>7} {'wall s':>8} {'speed-up':>8} {'vs proc':>8} {'tree MiB':>9} {'job MiB':>8} same"
    )
    for r in rows:
        ov = "" if r["overhead_vs_processes"] is None else f"{r['overhead_vs_processes']:+.1%}"
        print(
            f"{r['executor']:>9} {r['workers']:>7} {r['wall_seconds']:>8.1f} {r['speedup']:>7.2f}x {ov:>8} "
            f"{r['peak_tree_mib']:>9,.0f} {r['peak_job_mib']:>8,.0f} {'yes' if r['identical_oof'] else 'NO'}"
        )
    print("mean seconds per job:", json.dumps(rows[0]["job_seconds_mean"]))


if __name__ == "__main__":
    main()
