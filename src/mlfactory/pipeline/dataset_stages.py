"""The dataset stages: decision schedule and split boundaries, features, labels + weights, splits.

Order matters for leakage: split boundaries come first (from the decision schedule alone), so every
fitted statistic — fracdiff ``d``, barrier multipliers, weight normalisers — is fitted on rows before
the validation start only. (Models that need scaled inputs fit their own scaler on their training
rows; the labelled decision clock that training uses is ``training.clock.DecisionClock``.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import talib

from mlfactory.artifacts import atomic_write_json, atomic_write_parquet
from mlfactory.config import PipelineConfig
from mlfactory.data.instruments import Instrument
from mlfactory.data.segments import bar_segments
from mlfactory.errors import DataError
from mlfactory.features.mtf import DEFAULT_MTF_FEATURES
from mlfactory.features.store import build_feature_store
from mlfactory.labels.barrier_optimization import optimize_barriers
from mlfactory.labels.sample_weights import sample_weights
from mlfactory.labels.triple_barrier import label_horizons
from mlfactory.run_dir import RunDir
from mlfactory.splits.train_val_test import apply_split_boundaries, ns_to_iso
from mlfactory.timeframes import tf_minutes

MINUTE_NS = 60_000_000_000
Progress = Callable[[str], None]


def _ns(series: pl.Series) -> np.ndarray:
    return series.dt.epoch("ns").to_numpy()


@dataclass(frozen=True)
class DecisionSchedule:
    """Candidate decision times (base-timeframe bar closes with a defined ATR), their close and ATR for
    the barriers, and the split boundaries — what labelling needs before any label exists."""

    ts: np.ndarray
    close: np.ndarray
    atr: np.ndarray
    val_start_ns: int
    test_start_ns: int
    embargo_ns: int

    @property
    def train_end_ns(self) -> int:
        """Last instant that belongs to the training period."""
        return self.val_start_ns - 1

    def boundaries(self, fractions: tuple[float, float, float]) -> dict[str, Any]:
        return {
            "val_start_ns": self.val_start_ns,
            "test_start_ns": self.test_start_ns,
            "embargo_ns": self.embargo_ns,
            "fractions": list(fractions),
        }


def decision_schedule(base_bars: pl.DataFrame, config: PipelineConfig) -> DecisionSchedule:
    """Decision rows of the base timeframe and the chronological split boundaries between them."""
    high, low, close = (base_bars[c].to_numpy().astype(np.float64) for c in ("high", "low", "close"))
    atr = talib.ATR(high, low, close, timeperiod=config.labels.atr_window)
    ok = np.isfinite(atr) & (atr > 0)
    ts = _ns(base_bars["timestamp"])[ok]
    n = ts.size
    fr = config.splits.fractions
    i_val, i_test = int(np.floor(n * fr[0])), int(np.floor(n * (fr[0] + fr[1])))
    if n < 100 or not (0 < i_val < i_test < n):
        raise DataError(
            f"only {n} decision bars on {config.ladder.base_timeframe} after the ATR warm-up; "
            "use more data or a finer ladder.base_timeframe"
        )
    embargo_bars = (
        config.splits.embargo_bars if config.splits.embargo_bars is not None else max(config.labels.horizons)
    )
    embargo_ns = embargo_bars * tf_minutes(config.ladder.base_timeframe) * MINUTE_NS
    return DecisionSchedule(ts, close[ok], atr[ok], int(ts[i_val]), int(ts[i_test]), int(embargo_ns))


def features_stage(
    run: RunDir,
    ladder: dict[str, pl.DataFrame],
    instrument: Instrument,
    config: PipelineConfig,
    clock: DecisionSchedule,
    progress: Progress,
) -> tuple[list[Any], dict[str, Any]]:
    """Write ``RUN/features/<tf>.parquet`` (and fitted state); return the outputs and a summary."""
    mtf_names = config.features.mtf_features or DEFAULT_MTF_FEATURES
    frames, states = build_feature_store(
        ladder,
        config.feature_timeframes,
        instrument,
        mtf_timeframes=config.ladder.resolved_mtf_timeframes,
        mtf_names=mtf_names,
        fit_end=clock.train_end_ns,
        progress=progress,
        max_warmup_share=config.features.max_warmup_share,
    )
    outputs: list[Any] = []
    summary: dict[str, Any] = {}
    run.features_path("x").parent.mkdir(parents=True, exist_ok=True)
    for tf, frame in frames.items():
        atomic_write_parquet(frame, run.features_path(tf))
        outputs.append(run.features_path(tf))
        n_cols = sum(1 for c in frame.columns if c != "timestamp" and not c.startswith("warm"))
        summary[tf] = {
            "rows": frame.height,
            "columns": n_cols,
            "warm_rows": int(frame["warm"].sum()),
            "mtf_skipped": states[tf].get("mtf_skipped", {}),
            "warmup_skipped": states[tf].get("warmup_skipped", {}),
        }
        if states[tf].get("warmup_skipped"):
            progress(
                f"features: warning — {len(states[tf]['warmup_skipped'])} indicator(s) left out of {tf} "
                f"for a short history (warm-up > features.max_warmup_share): "
                f"{', '.join(sorted(states[tf]['warmup_skipped']))}"
            )
        for h, why in states[tf].get("mtf_skipped", {}).items():
            progress(f"features: warning — MTF {h} left out of {tf}: {why}")
    state_path = run.root / "features" / "fitted_state.json"
    atomic_write_json(state_path, states, sort_keys=True)
    outputs.append(state_path)
    return outputs, summary


def labels_stage(
    run: RunDir,
    bars_1m: pl.DataFrame,
    instrument: Instrument,
    config: PipelineConfig,
    clock: DecisionSchedule,
    progress: Progress,
) -> tuple[list[Any], dict[str, Any]]:
    """Triple-barrier labels for every horizon, sample weights, and ``splits.json``."""
    lc = config.labels
    minute = (
        _ns(bars_1m["timestamp"]),
        *(bars_1m[c].to_numpy().astype(np.float64) for c in ("open", "high", "low", "close")),
    )
    args = (clock.ts, clock.close, clock.atr, *minute)
    max_gap_ns = lc.max_gap_minutes * MINUTE_NS
    segment = bar_segments(bars_1m)  # no label path crosses a contract roll
    barrier_record: dict[str, Any] = {"mode": lc.barriers.mode}
    if lc.barriers.mode == "optimize":
        progress(f"labels: optimise barriers on training rows ({lc.barriers.n_trials} trials per horizon)")
        result = optimize_barriers(
            *args,
            horizons=lc.horizons,
            train_end_ns=clock.train_end_ns,
            instrument=instrument,
            max_gap_ns=max_gap_ns,
            minute_segment=segment,
            seed=config.seed,
            n_trials=lc.barriers.n_trials,
            k_range=lc.barriers.k_range,
        )
        k_up, k_down = result.k_up(), result.k_down()
        barrier_record |= result.to_dict()
        if result.any_at_bound:
            progress(
                "labels: warning — an optimal barrier sits at the edge of labels.barriers.k_range; widen it"
            )
    else:
        k_up, k_down = lc.barriers.k_up, lc.barriers.k_down
        barrier_record |= {"k_up": k_up, "k_down": k_down}
    progress(f"labels: horizons {', '.join(map(str, lc.horizons))} on {config.ladder.base_timeframe}")
    labels = label_horizons(*args, lc.horizons, k_up, k_down, max_gap_ns, minute_segment=segment)

    run.labels_path(0).parent.mkdir(parents=True, exist_ok=True)
    outputs: list[Any] = []
    split_record: dict[str, Any] = {
        "decision_timeframe": config.ladder.base_timeframe,
        "val_start": ns_to_iso(clock.val_start_ns),
        "test_start": ns_to_iso(clock.test_start_ns),
        **clock.boundaries(config.splits.fractions),
        "horizons": {},
    }
    summary: dict[str, Any] = {"barriers": barrier_record, "horizons": {}}
    for h, lab in labels.items():
        valid = lab.valid
        ts, t1 = clock.ts[valid], lab.t1[valid]
        split = apply_split_boundaries(ts, t1, clock.boundaries(config.splits.fractions))
        weight = sample_weights(ts, t1, minute[0], minute[4], split.train, lc.oldest_weight)
        frame = pl.DataFrame(
            {
                "timestamp": pl.Series(ts).cast(pl.Datetime("ns", "UTC")),
                "label": lab.label[valid].astype(np.int8),
                "t1": pl.Series(t1).cast(pl.Datetime("ns", "UTC")),
                "ret": lab.ret[valid],
                "barrier": lab.barrier[valid].astype(np.int8),
                "weight": weight,
                "split": np.select(
                    [split.train, split.val, split.test], ["train", "val", "test"], "excluded"
                ),
            }
        )
        atomic_write_parquet(frame, run.labels_path(h))
        outputs.append(run.labels_path(h))
        b = split.boundaries
        split_record["horizons"][str(h)] = {
            k: b[k] for k in ("train", "val", "test", "purged", "embargoed")
        } | {"invalid_rows_dropped": int((~valid).sum())}
        counts = frame.group_by("label").len().sort("label")
        summary["horizons"][str(h)] = {
            "rows": frame.height,
            "label_share": {
                str(r["label"]): round(r["len"] / frame.height, 4) for r in counts.iter_rows(named=True)
            },
            "invalid_rows_dropped": int((~valid).sum()),
        }
    barriers_path = run.root / "labels" / "barriers.json"
    atomic_write_json(barriers_path, barrier_record, sort_keys=True)
    atomic_write_json(run.splits_path, split_record, sort_keys=True)
    outputs += [barriers_path, run.splits_path]
    return outputs, summary
