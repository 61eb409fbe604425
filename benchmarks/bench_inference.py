"""Inference benchmark: the live predictor per new bar vs batch `predict` per bar, and `serve` round trips.

    .venv/bin/python benchmarks/bench_inference.py [--days 10 30 120] [--minutes 300] [--tabular-only]
                                                   [--bundle DIR] [--data FILE]

Builds seeded synthetic MES bars long enough for the longest history (or reads ``--data``), trains a
bundle on the first 25 trading days (the standard one: catboost + tcn + patchtst → logistic with tiny
settings, or ``--tabular-only``: random_forest + svm), then for each history length N:

- ``update``: a live predictor warmed up on the N trading days before a point, fed the next
  ``--minutes`` one-minute bars one at a time as JSON-like records (validation included):
  p50/p99 over all bars and over the bars that close a decision (the ones that compute features and
  predict). Flat in N once N exceeds the tails. ``--update-runs`` fresh predictors replay the same
  bars; the run with the lowest decision p50 is printed with the spread (the machines are shared),
  and the decision p50 as a multiple of batch ``predict`` per bar, measured in the same process.
- batch ``predict`` per bar: ``predict_bars(latest=1)`` on the N-day history (what a live system
  without state does at each decision), median of ``--repeat``.
- ``serve``: POST /bars round trips (httpx → uvicorn in a thread → live predictor), p50/p99.

Figures are printed; nothing is asserted. Run on one core with ``taskset -c 0`` for the targets.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

STANDARD = ("catboost", "tcn", "patchtst")
TABULAR = ("random_forest", "svm")
TINY = ("catboost.n_estimators=60", "tcn.epochs=1", "tcn.seq_len=16", "patchtst.epochs=1", "patchtst.seq_len=16",
        "tcn.progress=false", "patchtst.progress=false", "random_forest.n_estimators=20", "svm.n_components=32",
        "logistic.C=1.0")  # fmt: skip
TRAIN_DAYS = 25


def _pct(xs: list[float]) -> str:
    a = np.asarray(xs) * 1e3
    return f"p50 {np.percentile(a, 50):7.1f} ms  p99 {np.percentile(a, 99):7.1f} ms  (n={a.size})"


def _bundle(args, bars_path: Path, tmp: Path):
    from mlfactory.config import load_pipeline_config
    from mlfactory.data.instruments import get_instrument
    from mlfactory.pipeline import run_pipeline
    from mlfactory.serving.bundle import load_bundle
    from mlfactory.training.ensemble import EnsembleSpec, train_ensemble

    if args.bundle:
        return load_bundle(args.bundle)
    raw = pl.read_parquet(bars_path)
    day0 = raw["timestamp"].dt.date().unique().sort()
    train = tmp / "train.parquet"
    raw.filter(pl.col("timestamp").dt.date() <= day0[min(TRAIN_DAYS, day0.len() - 1)]).write_parquet(train)
    cfg = load_pipeline_config(overrides={"labels": {"horizons": [10]}})
    run_pipeline(train, get_instrument("MES"), cfg, tmp / "run")
    bases = TABULAR if args.tabular_only else STANDARD
    params = tuple(p for p in TINY if p.split(".")[0] in (*bases, "logistic"))
    spec = EnsembleSpec(bases, "logistic", 10, params, 3, name="bench", guard=False)
    return load_bundle(train_ensemble(tmp / "run", spec).directory)


def _update_latency(
    bundle, bars: pl.DataFrame, start: int, minutes: int
) -> tuple[list[float], list[float], dict]:
    from mlfactory.serving.live import LivePredictor

    live = LivePredictor.from_history(bundle, bars.head(start))
    records = _records(bars.slice(start, minutes))
    every, decisions = [], []
    for record in records:
        seen = live.decisions_seen
        t = time.perf_counter()
        live.update(record)  # validation included: what a feed pays per bar
        dt = time.perf_counter() - t
        every.append(dt)
        if live.decisions_seen > seen:
            decisions.append(dt)
    return every, decisions, live.ladder.n_closed()


def _records(bars: pl.DataFrame) -> list[dict]:
    """Bars as the JSON records a feed sends (ISO 8601 UTC bar close, OHLCV)."""
    return bars.select(
        pl.col("timestamp").dt.strftime("%Y-%m-%dT%H:%M:%SZ"), "open", "high", "low", "close", "volume"
    ).to_dicts()


def _serve_latency(bundle, bars: pl.DataFrame, start: int, n: int) -> list[float]:
    import httpx
    import uvicorn

    from mlfactory.serving.live import LivePredictor
    from mlfactory.serving.server import create_app

    live = LivePredictor.from_history(bundle, bars.head(start))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(live), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.get(f"{base}/health", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.05)
    records = _records(bars.slice(start, n))
    lat = []
    with httpx.Client(base_url=base, timeout=60) as client:
        for r in records:
            t = time.perf_counter()
            client.post("/bars", json=r).raise_for_status()
            lat.append(time.perf_counter() - t)
    server.should_exit = True
    thread.join(timeout=10)
    return lat


def main() -> None:
    from mlfactory.data.synthetic import generate_bars
    from mlfactory.pipeline import load_and_validate
    from mlfactory.serving.inference import predict_bars

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=int, nargs="+", default=[10, 30, 120])
    ap.add_argument("--minutes", type=int, default=300, help="bars fed one at a time per history length")
    ap.add_argument("--repeat", type=int, default=3, help="batch predict calls per history length")
    ap.add_argument("--update-runs", type=int, default=3, help="fresh live predictors fed the same bars")
    ap.add_argument("--serve", type=int, default=200, help="POST /bars round trips (0: skip)")
    ap.add_argument("--tabular-only", action="store_true")
    ap.add_argument("--bundle", type=Path, default=None, help="an existing bundle (skips training)")
    ap.add_argument("--data", type=Path, default=None, help="1-minute bars (default: seeded synthetic MES)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        path = args.data
        if path is None:
            n_days = TRAIN_DAYS + max(args.days) + 3
            path = tmp / "bars.parquet"
            generate_bars(n_days * 1_380, start=date(2024, 1, 2), seed=7).write_parquet(path)
        t = time.perf_counter()
        bundle = _bundle(args, path, tmp)
        print(
            f"bundle {bundle.spec.ensemble_id} ({', '.join(bundle.bases)}): ready in {time.perf_counter() - t:.1f} s"
        )
        bars, _ = load_and_validate(path, bundle.instrument, bundle.config)
        bars = bars.drop("row")
        day = bars["trading_day"]
        days = day.unique().sort()
        for n in args.days:
            if n + 1 >= days.len():
                print(f"history {n:>3} trading days: the data has only {days.len()} days; skipped")
                continue
            first = int(day.search_sorted(days[-n - 1]))
            # start a few hours into the last full session so the fed bars cross nothing unusual
            start = int(day.search_sorted(days[-1])) + 120
            hist = bars.slice(first, start - first)
            # each run: a fresh predictor fed the same bars; the quietest run is reported, and the spread
            runs = [
                _update_latency(bundle, bars.slice(first), start - first, args.minutes)
                for _ in range(args.update_runs)
            ]
            medians = [float(np.median(r[1] or r[0])) for r in runs]
            every, decisions, tails = runs[int(np.argmin(medians))]
            print(f"history {n:>3} trading days ({hist.height:,} 1m bars) — tails {tails}")
            spread = (
                f"decision p50 over {len(runs)} runs: {min(medians) * 1e3:.1f}–{max(medians) * 1e3:.1f} ms"
            )
            print(f"  update, every bar      : {_pct(every)}   [best run; {spread}]")
            if decisions:
                print(f"  update, decision bars  : {_pct(decisions)}")
            times = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                predict_bars(bundle, hist, latest=1)
                times.append(time.perf_counter() - t)
            batch = statistics.median(times)
            ratio = f"; decision p50 = {min(medians) / batch:.2f}× batch" if decisions else ""
            print(f"  batch predict per bar  : median {batch * 1e3:7.1f} ms (n={args.repeat}){ratio}")
        if args.serve:
            n = args.days[0]
            first = int(day.search_sorted(days[-min(n, days.len() - 1) - 1]))
            start = int(day.search_sorted(days[-1])) + 120
            lat = _serve_latency(bundle, bars.slice(first), start - first, args.serve)
            print(f"serve POST /bars round trip ({n} days of warm-up): {_pct(lat)}")


if __name__ == "__main__":
    main()
