"""The run's feature store: one frame per feature timeframe, with MTF columns from coarser bars.

``RUN/features/<tf>.parquet`` holds ``timestamp``, the timeframe's own features, ``warm`` (its own
features are past warm-up), and for every coarser timeframe ``h`` in the run's MTF list the
``<name>__<h>`` indicator columns and ``warm__<h>``, joined from bars of ``h`` that had closed at
each timestamp. Fitted state (fracdiff ``d``) is fitted on training rows only and stored per
timeframe so later calls reuse it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import polars as pl

from mlfactory.data.instruments import Instrument
from mlfactory.errors import ConfigError
from mlfactory.features.compute import compute_features
from mlfactory.features.mtf import mtf_indicator_features
from mlfactory.timeframes import tf_minutes


def coarser_than(tf: str, candidates: Sequence[str]) -> list[str]:
    return [h for h in candidates if tf_minutes(h) > tf_minutes(tf)]


def build_feature_frame(
    ladder: dict[str, pl.DataFrame],
    tf: str,
    instrument: Instrument,
    *,
    mtf_timeframes: Sequence[str],
    mtf_names: Sequence[str],
    fit_end: int | None = None,
    fitted: dict[str, Any] | None = None,
    names: Sequence[str] | None = None,
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Features of ``tf`` plus MTF indicator columns from each coarser timeframe in ``mtf_timeframes``.

    ``names`` restricts the timeframe's own features (inference computes only what its models use).
    """
    if tf not in ladder:
        raise ConfigError(f"features.timeframes: {tf!r} is not in the run's ladder ({', '.join(ladder)})")
    frame, state = compute_features(ladder[tf], tf, instrument, fit_end=fit_end, fitted=fitted, names=names)
    state["mtf_skipped"] = {}
    for h in coarser_than(tf, mtf_timeframes):
        if h not in ladder:
            raise ConfigError(
                f"ladder.mtf_timeframes: {h!r} is not in the run's ladder ({', '.join(ladder)})"
            )
        if fitted is not None and h in fitted.get("mtf_skipped", {}):
            state["mtf_skipped"][h] = fitted["mtf_skipped"][h]
            continue
        mtf = mtf_indicator_features(frame["timestamp"], ladder[h], h, instrument, mtf_names)
        warm = mtf[f"warm__{h}"]
        if fit_end is not None and not (warm & (frame["timestamp"].dt.epoch("ns") <= fit_end)).any():
            # Too few higher bars for the indicators' warm-up within the training period: the
            # columns would be NaN on every training row. Recorded in the fitted state and the manifest.
            state["mtf_skipped"][h] = (
                f"no {h} bar is past the indicators' warm-up before the training end ({ladder[h].height} bars)"
            )
            continue
        frame = pl.concat([frame, mtf.drop("timestamp")], how="horizontal")
    return frame, state


def build_feature_store(
    ladder: dict[str, pl.DataFrame],
    timeframes: Sequence[str],
    instrument: Instrument,
    *,
    mtf_timeframes: Sequence[str],
    mtf_names: Sequence[str],
    fit_end: int,
    progress: Callable[[str], None] = lambda msg: None,
) -> tuple[dict[str, pl.DataFrame], dict[str, Any]]:
    frames: dict[str, pl.DataFrame] = {}
    states: dict[str, Any] = {}
    for tf in timeframes:
        progress(f"features: {tf} (+ MTF from {', '.join(coarser_than(tf, mtf_timeframes)) or 'none'})")
        frames[tf], states[tf] = build_feature_frame(
            ladder, tf, instrument, mtf_timeframes=mtf_timeframes, mtf_names=mtf_names, fit_end=fit_end
        )
    return frames, states
