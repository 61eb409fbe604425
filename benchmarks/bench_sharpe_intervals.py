"""Wall time of the Sharpe uncertainty added to every trading-metrics dict (SE + 1,000-resample
moving-block bootstrap), by series length.

    PYTHONPATH=src python benchmarks/bench_sharpe_intervals.py [--sizes 1000,10000,50000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from mlfactory.evaluation.sharpe_intervals import sharpe_uncertainty


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000,50000")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    for n in (int(s) for s in args.sizes.split(",")):
        r = rng.normal(0.0001, 0.001, n)
        best = float("inf")
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            sharpe_uncertainty(r, 69_552.0, horizon=12, seed=0)
            best = min(best, time.perf_counter() - t0)
        print(f"T={n:>7,}: {best * 1000:8.1f} ms per series (best of {args.repeats})")


if __name__ == "__main__":
    main()
