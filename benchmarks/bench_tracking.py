"""Benchmark: what MLflow tracking adds to a command — opening the sqlite store and recording results.

Run: ``.venv/bin/python benchmarks/bench_tracking.py --run RUN`` on a run directory that holds
models and/or ensembles (``mlfactory demo --quick`` makes one). Prints wall seconds for: importing
mlflow, creating a fresh store, reopening it, building the records of every model and ensemble of
the run (flattening, per-fold log losses) and writing them (one parent run with all children).
The store is created in a temporary directory; the run directory is only read.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run", type=Path, required=True, help="run directory with models/ or ensembles/")
    args = parser.parse_args()
    t = time.perf_counter()
    import mlflow  # noqa: F401

    print(f"import mlflow        {time.perf_counter() - t:7.2f} s")
    from mlfactory.tracking.record import RunRecord
    from mlfactory.tracking.recorder import write_record
    from mlfactory.tracking.run_records import RunContext, ensemble_record, model_record
    from mlfactory.tracking.store import open_store, sqlite_uri

    with tempfile.TemporaryDirectory() as tmp:
        uri = sqlite_uri(Path(tmp) / "mlruns.db")
        t = time.perf_counter()
        open_store(uri)
        print(f"create sqlite store  {time.perf_counter() - t:7.2f} s")
        t = time.perf_counter()
        store = open_store(uri)
        print(f"reopen store         {time.perf_counter() - t:7.2f} s")
        t = time.perf_counter()
        ctx = RunContext.of(args.run)
        parent = RunRecord("bench")
        parent.children = [
            model_record(ctx, p.parent) for p in sorted(ctx.root.glob("models/*/metrics.json"))
        ]
        parent.children += [
            ensemble_record(ctx, p.parent) for p in sorted(ctx.root.glob("ensembles/*/metrics.json"))
        ]
        runs = sum(1 for _ in parent.walk())
        metrics = sum(len(r.metrics) + sum(len(s) for s in r.series.values()) for r in parent.walk())
        print(
            f"build records        {time.perf_counter() - t:7.2f} s  ({runs} runs, {metrics} metric values)"
        )
        t = time.perf_counter()
        write_record(store, parent)
        print(f"write records        {time.perf_counter() - t:7.2f} s")


if __name__ == "__main__":
    main()
