"""``mlfactory demo``: the whole factory on the bundled synthetic sample (or on your own bars)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from mlfactory.cli.common import console, emit_json, progress, user_errors
from mlfactory.config import load_pipeline_config
from mlfactory.data.instruments import get_instrument
from mlfactory.data.synthetic import generate_bars
from mlfactory.pipeline import run_pipeline

DEMO_SEED = 7
DEMO_BARS = 120_000
QUICK_BARS = 30_000


def sample_path(out: Path, n_bars: int) -> Path:
    """Generate (once) the deterministic synthetic MES sample used by the demo."""
    path = out / "sample" / f"MES_1m_synthetic_{n_bars}.parquet"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        generate_bars(n_bars, symbol="MES", seed=DEMO_SEED).write_parquet(path)
    return path


@user_errors
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="where the demo writes its sample and run")] = Path(
        "runs/demo"
    ),
    data: Annotated[
        Path | None,
        typer.Option("--data", "-d", help="your own 1-minute bars instead of the synthetic sample"),
    ] = None,
    symbol: Annotated[str, typer.Option("--symbol", "-s", help="symbol of --data")] = "MES",
    quick: Annotated[bool, typer.Option("--quick", help="small sample, for smoke tests")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON summary on stdout")] = False,
) -> None:
    """Run the factory end to end and print where the run directory is."""
    t0 = time.perf_counter()
    n_bars = QUICK_BARS if quick else DEMO_BARS
    if data is None:
        progress(f"sample: synthetic MES, {n_bars:,} one-minute bars (seed {DEMO_SEED})")
        data = sample_path(out, n_bars)
        symbol = "MES"
    instrument = get_instrument(symbol)
    config = load_pipeline_config()
    result = run_pipeline(data, instrument, config, out / "run", progress=progress)
    summary = result.summary() | {"seconds": round(time.perf_counter() - t0, 2), "data": str(data)}
    if json_out:
        emit_json(summary)
        return
    v = result.validation
    console.print(f"[bold green]demo finished[/] in {summary['seconds']:.1f} s")
    console.print(
        f"data: {data} → {v['rows_out']:,} bars, {v['trading_days']} trading days, gaps {v['gaps']['by_kind']}"
    )
    console.print("ladder: " + ", ".join(f"{tf} {n:,}" for tf, n in result.ladder_rows.items()))
    feats = result.manifest.get("features") or {}
    console.print("features: " + ", ".join(f"{tf} {f['columns']} columns" for tf, f in feats.items()))
    labels = (result.manifest.get("labels") or {}).get("horizons", {})
    console.print(
        "labels: " + "; ".join(f"h{h} {v['rows']:,} rows {v['label_share']}" for h, v in labels.items())
    )
    console.print(f"run directory: [bold]{result.run.root}[/]")
