"""``mlfactory predict --stream``: replay a file minute by minute through the live predictor.

The output file has the same rows and columns as batch ``predict`` (plus nothing): the replay is
the check that what a live deployment would have emitted equals the batch predictions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlfactory.serving.bundle import load_bundle
from mlfactory.serving.conventions import InputOptions, read_new_bars
from mlfactory.serving.live import LivePredictor


def stream_bundle(
    bundle_dir: Path, data_path: Path, out: Path, options: InputOptions | None = None
) -> dict[str, Any]:
    bundle = load_bundle(bundle_dir)
    new = read_new_bars(bundle, Path(data_path), options)
    bars = new.bars
    live = LivePredictor.replaying(bundle, bars)
    result = live.update_validated(bars)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    result.write_parquet(out) if out.suffix != ".csv" else result.write_csv(out)
    decisions = live.decisions_seen
    return {
        "bundle": str(bundle.directory),
        "data": str(data_path),
        "out": str(out),
        "rows_in": new.report.rows_in,
        "predicted": result.height,
        "decisions": decisions,
        "kept": bundle.spec.combiner.candidate,
        "mode": "stream",
        "conventions": new.conventions,
        "tails": {tf: r["length"] for tf, r in live.tails_report.items()},
        # features held to float32 rounding instead of bit identity (a running sum that never
        # forgets its first bar; serving.tails), with their largest difference on the history
        "tails_rounding": {tf: r["rounding"] for tf, r in live.tails_report.items() if r.get("rounding")},
    }
