"""Inference benchmark: one new bar through features + the standard ensemble, from a trailing history.

    .venv/bin/python benchmarks/bench_inference.py [--data ../shared/data/MES_1m.parquet] [--days 12 20 30]

Trains a small standard ensemble bundle (catboost + tcn + patchtst → logistic, tiny settings) on
the data, loads it once, then for each history length predicts from the trailing N trading days of
1-minute bars — the path a live system takes when a bar closes (ladder, features with the bundle's
fitted state, every base, the stack, the meta-learner). Prints the median latency to the latest
decision's prediction and how far that prediction is from the one computed on the full history
(indicators with exponential memory — RSI, ADX, MACD — depend on where the history starts).
DESIGN.md's target is < 50 ms per new bar.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "MES_1m.parquet"
TINY = ("catboost.n_estimators=60", "tcn.epochs=1", "tcn.seq_len=16", "patchtst.epochs=1", "patchtst.seq_len=16",
        "tcn.progress=false", "patchtst.progress=false", "logistic.C=1.0", "logistic.class_weight=none")  # fmt: skip


def main() -> None:
    from mlfactory.config import load_pipeline_config
    from mlfactory.data.instruments import get_instrument
    from mlfactory.pipeline import load_and_validate, run_pipeline
    from mlfactory.serving.bundle import load_bundle
    from mlfactory.serving.inference import predict_bars
    from mlfactory.training.ensemble import EnsembleSpec, train_ensemble

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=REAL)
    ap.add_argument("--days", type=int, nargs="+", default=[12, 20, 30])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    inst, cfg = get_instrument("MES"), load_pipeline_config()
    with tempfile.TemporaryDirectory() as tmp:
        run_pipeline(args.data, inst, cfg, Path(tmp) / "run")
        spec = EnsembleSpec(
            ("catboost", "tcn", "patchtst"), "logistic", 10, TINY, 3, name="standard", guard=False
        )
        result = train_ensemble(Path(tmp) / "run", spec)
        t = time.perf_counter()
        bundle = load_bundle(result.directory)
        print(f"bundle {result.metrics.model}: loaded in {time.perf_counter() - t:.2f} s (once)")
        bars, _ = load_and_validate(args.data, inst, cfg)
        bars = bars.drop("row")
        full, _ = predict_bars(bundle, bars)
        days = bars["trading_day"].unique().sort()
        for n in args.days:
            # end at a full session's last bar: a window model cannot predict the first bars of a session
            tail = bars.filter((pl.col("trading_day") >= days[-n - 1]) & (pl.col("trading_day") <= days[-2]))
            predict_bars(bundle, tail, latest=1)  # warm-up
            times = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                pred, _ = predict_bars(bundle, tail, latest=1)
                times.append(time.perf_counter() - t)
            last = pred.tail(1)
            ref = full.filter(pl.col("timestamp") == last["timestamp"][0])
            diff = (
                float(np.abs(last["p_long"].to_numpy() - ref["p_long"].to_numpy()).max())
                if ref.height
                else float("nan")
            )
            print(
                f"history {n:>2} trading days ({tail.height:,} 1m bars): {statistics.median(times) * 1000:,.0f} ms per new bar "
                f"(median of {args.repeat}); |Δp_long| vs full history {diff:.4f}"
            )


if __name__ == "__main__":
    main()
