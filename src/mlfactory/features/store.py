"""The run's feature store: one frame per feature timeframe, with MTF columns from coarser bars.

``RUN/features/<tf>.parquet`` holds ``timestamp``, the timeframe's own features, ``warm`` (its own
features are past warm-up), and for every coarser timeframe ``h`` in the run's MTF list the
``<name>__<h>`` indicator columns and ``warm__<h>``, joined from bars of ``h`` that had closed at
each timestamp. Fitted state (fracdiff ``d``) is fitted on training rows only and stored per
timeframe so later calls reuse it.

Short histories: with ``max_warmup_share`` (pipeline key ``features.max_warmup_share``, default
10 %), an own indicator whose warm-up (in bars of the timeframe) exceeds that share of the
timeframe's training rows (rows at or before ``fit_end``), and an MTF timeframe whose indicators
are still cold on more than that share of the training rows, are left out; the reasons are kept
in the fitted state (``warmup_skipped``, ``mtf_skipped``) and the run manifest. So no single input
costs a model more than that share of its training decisions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import polars as pl

from mlfactory.data.instruments import Instrument
from mlfactory.errors import ConfigError
from mlfactory.features.compute import compute_features
from mlfactory.features.mtf import mtf_indicator_features
from mlfactory.features.registry import feature_defs
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
    max_warmup_share: float | None = None,
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Features of ``tf`` plus MTF indicator columns from each coarser timeframe in ``mtf_timeframes``.

    ``names`` restricts the timeframe's own features (inference computes only what its models use).
    """
    if tf not in ladder:
        raise ConfigError(f"features.timeframes: {tf!r} is not in the run's ladder ({', '.join(ladder)})")
    n_train = budget = None
    skipped: dict[str, str] = {}
    if fit_end is not None and max_warmup_share is not None and fitted is None:
        n_train = int((ladder[tf]["timestamp"].dt.epoch("ns") <= fit_end).sum())
        budget = max_warmup_share * n_train
        if names is None:
            names, skipped = _affordable_features(tf, instrument, n_train, budget, max_warmup_share)
    frame, state = compute_features(ladder[tf], tf, instrument, fit_end=fit_end, fitted=fitted, names=names)
    state["warmup_skipped"] = skipped if fitted is None else fitted.get("warmup_skipped", {})
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
        if budget is not None:
            cold = int((~warm & (frame["timestamp"].dt.epoch("ns") <= fit_end)).sum())
            if cold > budget:
                state["mtf_skipped"][h] = (
                    f"its indicators' warm-up costs {cold} of the {n_train} training rows of {tf} "
                    f"({cold / max(n_train, 1):.0%} > features.max_warmup_share {max_warmup_share:.0%})"
                )
                continue
        frame = pl.concat([frame, mtf.drop("timestamp")], how="horizontal")
    return frame, state


def kept_mtf_timeframes(source: Any, tf: str, wanted: Sequence[str]) -> list[str]:
    """``wanted`` less the MTF timeframes the feature store left out of ``tf`` (short history).

    The record comes from the fitted feature state (``source.fitted``, a bundle's inference data)
    or from the run manifest (``source.manifest``, a run directory).
    """
    fitted = getattr(source, "fitted", None)
    if isinstance(fitted, dict) and tf in fitted:
        skipped = fitted[tf].get("mtf_skipped") or {}
    else:
        manifest = getattr(source, "manifest", None) or {}
        skipped = ((manifest.get("features") or {}).get(tf) or {}).get("mtf_skipped") or {}
    return [h for h in wanted if h not in skipped]


def _affordable_features(
    tf: str, instrument: Instrument, n_train: int, budget: float, share: float
) -> tuple[list[str], dict[str, str]]:
    """The registry features of ``tf`` whose warm-up fits the budget, and why the others are left out."""
    keep, skipped = [], {}
    for d in feature_defs(tf, instrument):
        if d.spec.warmup_bars <= budget:
            keep.append(d.spec.name)
        else:
            skipped[d.spec.name] = (
                f"warm-up of {d.spec.warmup_bars} bars > {share:.0%} of the {n_train} training rows of {tf} "
                "(features.max_warmup_share)"
            )
    if not keep:
        raise ConfigError(
            f"features on {tf}: every indicator's warm-up exceeds {share:.0%} of the {n_train} training rows; "
            "use more data, a finer timeframe, or raise features.max_warmup_share"
        )
    return keep, skipped


def build_feature_store(
    ladder: dict[str, pl.DataFrame],
    timeframes: Sequence[str],
    instrument: Instrument,
    *,
    mtf_timeframes: Sequence[str],
    mtf_names: Sequence[str],
    fit_end: int,
    progress: Callable[[str], None] = lambda msg: None,
    max_warmup_share: float | None = None,
) -> tuple[dict[str, pl.DataFrame], dict[str, Any]]:
    frames: dict[str, pl.DataFrame] = {}
    states: dict[str, Any] = {}
    for tf in timeframes:
        progress(f"features: {tf} (+ MTF from {', '.join(coarser_than(tf, mtf_timeframes)) or 'none'})")
        frames[tf], states[tf] = build_feature_frame(
            ladder,
            tf,
            instrument,
            mtf_timeframes=mtf_timeframes,
            mtf_names=mtf_names,
            fit_end=fit_end,
            max_warmup_share=max_warmup_share,
        )
    return frames, states
