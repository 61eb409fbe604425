"""Benchmark: backtest 1M decisions on 1M bars (random signals), trading metrics, PBO.

Run: ``.venv/bin/python benchmarks/bench_backtest.py [--n 1000000] [--seed 0] [--demo quick|full|both]``.
Prints wall seconds per stage and the process's peak RSS. Target: the backtest well under 1 s.
``--demo`` also times ``mlfactory demo`` (the whole factory) end to end in a fresh process and directory.
``--walk-forward`` times ``mlfactory backtest --walk-forward`` as whole processes on the real MES sample
(lightgbm with 1 and 2 workers on the processes executor, and the minimal recipe), against
``python -c "import typer"`` in the same run, and prints each one's out-of-sample coverage and Sharpe.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from mlfactory.data.instruments import get_instrument
from mlfactory.evaluation import (
    backtest,
    positions_from_probabilities,
    probability_of_backtest_overfitting,
    trading_report,
)


def _peak_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


REAL_MES = Path(__file__).resolve().parents[2] / "shared" / "data" / "MES_1m.parquet"
WF = ["--horizon", "10", "--walk-forward", "--train-days", "10", "--test-days", "5", "--json"]
WF_CASES = (
    ("lightgbm, 1 worker", ["--model", "lightgbm", "--param", "n_estimators=100"], 1),
    ("lightgbm, 2 workers", ["--model", "lightgbm", "--param", "n_estimators=100"], 2),
    (
        "minimal recipe, 1 worker",
        ["--recipe", "minimal", "--param", "lstm.epochs=2", "--param", "lstm.progress=false"],
        1,
    ),
)


def _timed(cmd: list[str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - t0, done.stdout


def bench_walk_forward(data: str) -> None:
    exe = str(Path(sys.executable).with_name("mlfactory"))
    ref, _ = _timed([sys.executable, "-c", "import typer"])
    with tempfile.TemporaryDirectory() as tmp:
        run = str(Path(tmp) / "run")
        pipe, _ = _timed([exe, "pipeline", "run", "--data", data, "--symbol", "MES", "--out", run, "--json"])
        print(f"reference `python -c 'import typer'`: {ref:.2f} s; pipeline run: {pipe:.1f} s")
        for name, extra, workers in WF_CASES:
            wall, out = _timed([exe, "backtest", "--run", run, *WF, *extra, "--executor", "processes",
                                "--workers", str(workers)])  # fmt: skip
            summary = json.loads(out)
            cov, oos = summary["coverage"], summary["oos"]
            print(
                f"walk-forward {name}: {wall:.1f} s ({wall / ref:.0f}× the reference), {len(summary['steps'])} steps, "
                f"{cov['fraction']:.0%} of decisions out of sample, OOS log loss {oos['log_loss']:.4f} "
                f"(prior {oos['prior_log_loss']:.4f}), Sharpe {oos['sharpe_text']}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000, help="bars (= decisions)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--demo", choices=("none", "quick", "full", "both"), default="none")
    parser.add_argument("--walk-forward", action="store_true", help="time walk-forward backtests on real MES")
    parser.add_argument("--data", default=str(REAL_MES), help="1-minute bars for --walk-forward")
    args = parser.parse_args()
    if args.walk_forward:
        bench_walk_forward(args.data)
        return
    rng = np.random.default_rng(args.seed)
    n = args.n
    ts = np.int64(1_600_000_000) * 10**9 + np.arange(n, dtype=np.int64) * 60 * 10**9
    close = 4000.0 + np.cumsum(rng.normal(0.0, 0.5, n))
    open_ = np.concatenate(([close[0]], close[:-1])) + rng.normal(0.0, 0.1, n)
    proba = rng.dirichlet(np.ones(3), size=n)
    instrument = get_instrument("ES")
    print(
        f"random-signal backtest on {n:,} one-minute bars, seed {args.seed}, peak RSS before: {_peak_rss_mib():,.0f} MiB"
    )

    backtest(
        ts[:1000],
        np.ones(1000),
        ts[:1000],
        open_[:1000],
        close[:1000],
        instrument,
        holding="horizon",
        horizon=5,
    )

    t0 = time.perf_counter()
    signals = positions_from_probabilities(proba, "bet_size", step=0.1)
    t1 = time.perf_counter()
    print(f"positions_from_probabilities (bet_size) {n:,} rows: {t1 - t0:.3f} s")

    for holding, horizon in (("until_next_signal", None), ("horizon", 10)):
        t0 = time.perf_counter()
        result = backtest(ts, signals, ts, open_, close, instrument, holding=holding, horizon=horizon)
        t1 = time.perf_counter()
        print(
            f"backtest {n:,} decisions ({holding}): {t1 - t0:.3f} s  "
            f"[{len(result.trades):,} trades, {result.costs_points.sum() * instrument.point_value:,.0f} USD costs]"
        )

    t0 = time.perf_counter()
    trading_report(result, bar_minutes=1.0, regime=np.where(rng.random(n) < 0.5, "calm", "wild"))
    t1 = time.perf_counter()
    print(f"trading_report (strategy + 2 baselines + session/regime breakdowns): {t1 - t0:.3f} s")

    perf = rng.normal(0.0, 1e-3, size=(10_000, 100))
    t0 = time.perf_counter()
    pbo = probability_of_backtest_overfitting(perf, 16)
    t1 = time.perf_counter()
    print(f"PBO (CSCV) 10,000 x 100 configs, S=16 ({pbo.n_combinations:,} combinations): {t1 - t0:.3f} s")
    print(f"peak RSS: {_peak_rss_mib():,.0f} MiB")
    for mode in {"none": (), "quick": ("quick",), "full": ("full",), "both": ("quick", "full")}[args.demo]:
        _time_demo(mode == "quick")


def _time_demo(quick: bool) -> None:
    import subprocess
    import tempfile
    from pathlib import Path

    exe = Path(sys.executable).with_name("mlfactory")
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [str(exe), "demo", "--out", tmp, *(["--quick"] if quick else [])]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        print(
            f"mlfactory demo{' --quick' if quick else ''}: {time.perf_counter() - t0:.1f} s wall (fresh directory)"
        )


if __name__ == "__main__":
    main()
