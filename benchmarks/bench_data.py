"""Data-layer benchmark: ingest+validate (CSV and Parquet), full-ladder resample, peak memory.

    .venv/bin/python benchmarks/bench_data.py [--bars 1000000] [--file PATH]

Targets (2 cores, DESIGN.md): ingest+validate of 1M rows from Parquet < 2 s; the whole ladder < 0.5 s.
Each measurement runs in a fresh process after one warm-up call (numba/pandas-market-calendars imports).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import measure


def _ingest_validate(path: str) -> int:
    from mlfactory.config import load_pipeline_config
    from mlfactory.data.instruments import get_instrument
    from mlfactory.pipeline import load_and_validate

    inst, cfg = get_instrument("MES"), load_pipeline_config()
    load_and_validate(Path(path), inst, cfg)  # warm-up: imports, calendar, JIT
    t = time.perf_counter()
    bars, _ = load_and_validate(Path(path), inst, cfg)
    return bars.height, time.perf_counter() - t


def _ladder(path: str) -> tuple[int, float]:
    from mlfactory.config import load_pipeline_config
    from mlfactory.data.instruments import get_instrument
    from mlfactory.data.resample import build_ladder
    from mlfactory.pipeline import load_and_validate

    bars, _ = load_and_validate(Path(path), get_instrument("MES"), load_pipeline_config())
    build_ladder(bars.head(10_000))
    t = time.perf_counter()
    ladder = build_ladder(bars)
    return sum(f.height for f in ladder.values()), time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bars", type=int, default=1_000_000)
    ap.add_argument(
        "--file", type=Path, default=None, help="read this Parquet file instead of generating bars"
    )
    args = ap.parse_args()
    from mlfactory.data.synthetic import generate_bars

    with tempfile.TemporaryDirectory() as tmp:
        pq = Path(tmp) / "bars.parquet"
        csv = Path(tmp) / "bars.csv"
        if args.file:
            import polars as pl

            frame = pl.read_parquet(args.file)
        else:
            frame = generate_bars(args.bars, seed=1)
        frame.write_parquet(pq)
        frame.write_csv(csv)
        n = frame.height
        print(
            f"bars: {n:,} one-minute bars ({'file ' + str(args.file) if args.file else 'synthetic MES, seed 1'})"
        )
        _, peak, (rows, secs) = measure(_ingest_validate, str(pq))
        print(f"ingest+validate parquet : {secs:6.3f} s   peak {peak:7.0f} MiB   ({rows:,} rows kept)")
        _, peak, (rows, secs) = measure(_ingest_validate, str(csv))
        print(f"ingest+validate csv     : {secs:6.3f} s   peak {peak:7.0f} MiB")
        _, peak, (total, secs) = measure(_ladder, str(pq))
        print(
            f"ladder (10 timeframes)  : {secs:6.3f} s   ({total:,} bars in all; process peak {peak:.0f} MiB incl. ingest)"
        )


if __name__ == "__main__":
    main()
