"""CLI start-up and the demo, as whole processes, each against ``python -c "import typer"``.

    .venv/bin/python benchmarks/bench_cli.py [--repeat 5] [--no-demo] [--full-demo]

Each command runs as a fresh process (what a user types), ``--repeat`` times; the median wall time
is printed beside the median of ``python -c "import typer"`` measured in the same run, and their
ratio, so a busy machine shows up in both; CPU seconds (user + system of the process) are printed
too, as they hardly change with the load. Targets on a quiet 2-core machine: ``--help`` ≤ 0.5 s,
``models`` ≤ 1 s, ``demo`` ≤ 90 s (the replaced system: ``--help`` 4.6–5.1 s, ``models`` 13 s).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS = {"--help": 0.5, "models": 1.0, "demo": 90.0}


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def wall(argv: list[str], timeout: float) -> tuple[float, float]:
    """(wall s, CPU s) of one process from start to exit; a failure stops the benchmark with its stderr."""
    cpu0, start = _children_cpu(), time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    seconds, cpu = time.perf_counter() - start, _children_cpu() - cpu0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return seconds, cpu


def median_wall(argv: list[str], repeat: int, timeout: float) -> tuple[float, float]:
    runs = [wall(argv, timeout) for _ in range(repeat)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5, help="runs per command (the median is printed)")
    ap.add_argument("--no-demo", action="store_true", help="skip the demo (start-up only)")
    ap.add_argument("--full-demo", action="store_true", help="time `demo --full` instead of `demo`")
    args = ap.parse_args()

    py = sys.executable
    cli = [py, "-m", "mlfactory.cli"]
    wall([py, "-c", "import mlfactory.cli.app"], 120)  # warm the bytecode cache once
    typer_s = median_wall([py, "-c", "import typer"], args.repeat, 60)
    rows = [("python -c 'import typer'", typer_s, None)]
    typer_s = typer_s[0]
    rows.append(("mlfactory --help", median_wall([*cli, "--help"], args.repeat, 60), TARGETS["--help"]))
    rows.append(("mlfactory models", median_wall([*cli, "models"], args.repeat, 60), TARGETS["models"]))
    if not args.no_demo:
        with tempfile.TemporaryDirectory() as tmp:
            demo = [*cli, "demo", "--out", tmp, *(["--full"] if args.full_demo else [])]
            label = "mlfactory demo" + (" --full" if args.full_demo else "")
            rows.append((label, wall(demo, 3600), None if args.full_demo else TARGETS["demo"]))

    print(f"{'command':<28} {'wall s':>8} {'CPU s':>7} {'× typer':>9} {'target s':>9}")
    for name, (seconds, cpu), target in rows:
        ratio = seconds / typer_s if typer_s > 0 else float("nan")
        tgt = f"{target:.1f}" if target is not None else "—"
        flag = "" if target is None or seconds <= target else "  (over target)"
        print(f"{name:<28} {seconds:>8.2f} {cpu:>7.2f} {ratio:>9.1f} {tgt:>9}{flag}")
    print(
        f"(median of {args.repeat} runs each, except the demo: one run; {Path(py).name} {sys.version.split()[0]})"
    )


if __name__ == "__main__":
    main()
