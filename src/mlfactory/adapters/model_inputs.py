"""What one model sees: its own timeframe, MTF strategy and feature set, at given decision times.

Inputs are built from bars and features only — no labels — so training (on the run's decision
clock) and inference (on the decision times of new bars) share this one path. A model on a
coarser timeframe joins its latest *closed* bar as-of each decision time; a sequence model's
window ends at that bar. Decisions a model cannot build (warm-up, a window that would cross a
session break) are absent from ``clock_rows``, never filled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import polars as pl

from mlfactory.adapters.views import ModelInput, TabularView
from mlfactory.adapters.windows import build_multistream_view, build_window_view
from mlfactory.data.align import asof_rows
from mlfactory.data.instruments import Instrument
from mlfactory.data.segments import break_ids
from mlfactory.errors import ArtifactError, ConfigError
from mlfactory.features.registry import feature_specs
from mlfactory.features.store import kept_mtf_timeframes
from mlfactory.models.base import InputKind, MtfStrategy
from mlfactory.models.config import ModelConfig

FEATURE_SETS = ("all", "engineered", "engineered_mtf", "raw", "raw_ohlcv")
RAW_OHLCV = ("open", "high", "low", "close", "log_volume")


class BarSource(Protocol):
    """Where model inputs come from: a run directory (training) or bars in memory (inference)."""

    @property
    def instrument(self) -> Instrument: ...

    def bars(self, tf: str) -> pl.DataFrame: ...

    def features(self, tf: str) -> pl.DataFrame: ...


@dataclass(frozen=True)
class ModelInputs:
    """A model's view on a decision clock: ``clock_rows[i]`` is the decision of view row ``i``."""

    view: ModelInput
    clock_rows: np.ndarray
    feature_names: tuple[str, ...]
    n_decisions: int

    @property
    def timestamps(self) -> np.ndarray:
        return self.view.timestamps


def _ns(s: pl.Series) -> np.ndarray:
    return s.dt.epoch("ns").to_numpy()


def feature_columns(data: BarSource, cfg: ModelConfig) -> list[str]:
    """The feature columns a model receives, by its feature set and MTF strategy."""
    if cfg.feature_set not in FEATURE_SETS:
        raise ConfigError(
            f"{cfg.source}: feature_set {cfg.feature_set!r} is unknown; use one of {', '.join(FEATURE_SETS)}"
        )
    if cfg.feature_set == "raw_ohlcv":
        return list(RAW_OHLCV)
    frame = data.features(cfg.timeframe)
    kinds = {s.name: s.kind for s in feature_specs(cfg.timeframe, data.instrument)}
    own = [c for c in frame.columns if c in kinds]
    if cfg.feature_set in ("engineered", "engineered_mtf"):
        own = [c for c in own if kinds[c] == "engineered"]
    elif cfg.feature_set == "raw":
        own = [c for c in own if kinds[c] == "raw"]
    mtf: list[str] = []
    if cfg.mtf_strategy == MtfStrategy.MTF_INDICATORS and cfg.feature_set != "raw":
        for h in kept_mtf_timeframes(data, cfg.timeframe, cfg.mtf_timeframes):  # short history
            cols = [c for c in frame.columns if c.endswith(f"__{h}") and not c.startswith("warm__")]
            if not cols:
                raise ConfigError(
                    f"{cfg.source}: model {cfg.model!r} wants MTF indicators from {h}, but features/{cfg.timeframe}.parquet has none "
                    f"(MTF from {h} may have been skipped for a short history, or {h} is not in ladder.mtf_timeframes); "
                    "change mtf_timeframes or rerun the pipeline with more data"
                )
            mtf += cols
    return own + mtf


def _warm_columns(cfg: ModelConfig, data: BarSource) -> list[str]:
    warm = ["warm"]
    if cfg.mtf_strategy == MtfStrategy.MTF_INDICATORS and cfg.feature_set not in ("raw", "raw_ohlcv"):
        warm += [f"warm__{h}" for h in kept_mtf_timeframes(data, cfg.timeframe, cfg.mtf_timeframes)]
    return warm


def _raw_ohlcv(bars: pl.DataFrame) -> np.ndarray:
    return (
        bars.select("open", "high", "low", "close", pl.col("volume").log1p().alias("log_volume"))
        .to_numpy()
        .astype(np.float32)
    )


WINDOW_MAX_GAP_NS = 96 * 3600 * 1_000_000_000


def _segments(bars: pl.DataFrame) -> np.ndarray:
    """Segment id per bar for windows (3D and 4D inputs): a window never spans a contract roll
    (``data.segments``) or a gap of more than four days (a multi-day outage or missing data).

    A window is the last ``seq_len`` bars, as a trader's screen shows them: it spans the daily
    maintenance break and weekends and holiday closures, like the engineered features it holds
    (indicators run across those gaps too). Cutting windows at every weekend would lose the first
    ``seq_len`` bars of each week — with the standard recipe's 64-bar 15m streams, 16 hours per
    week, and so the rows the bases share.
    """
    return break_ids(bars, by_trading_day=False, max_gap_ns=WINDOW_MAX_GAP_NS)


def build_model_inputs(
    source: BarSource, cfg: ModelConfig, decision_ts: np.ndarray, *, seq_len: int | None = None
) -> ModelInputs:
    """Align ``cfg``'s inputs to the decision timestamps ``decision_ts`` (int64 ns, increasing)."""
    cls = cfg.model_cls
    dts = np.asarray(decision_ts, dtype=np.int64)
    names = feature_columns(source, cfg)
    L = int(seq_len or getattr(cfg.params, "seq_len", 32))
    if cls.input_kind == InputKind.TABULAR:
        view, keep = _tabular(source, cfg, names, dts)
    elif cls.input_kind == InputKind.SEQUENCE:
        view = _sequence(source, cfg, names, dts, L)
        keep = np.searchsorted(dts, view.timestamps)
    else:
        streams = {
            tf: (_raw_ohlcv(b), _ns(b["timestamp"]), _segments(b), np.ones(b.height, bool))
            for tf in (cfg.timeframe, *cfg.mtf_timeframes)
            for b in (source.bars(tf),)
        }
        view = build_multistream_view(streams, dts, L, feature_names=RAW_OHLCV)
        keep = np.searchsorted(dts, view.timestamps)
    return ModelInputs(view, keep.astype(np.int64), tuple(names), int(dts.size))


def _tabular(
    source: BarSource, cfg: ModelConfig, names: list[str], dts: np.ndarray
) -> tuple[TabularView, np.ndarray]:
    """Each decision's row: the latest feature row stamped at or before it (``asof_rows``)."""
    frame = source.features(cfg.timeframe)
    at = asof_rows(_ns(frame["timestamp"]), dts)  # -1: no closed bar yet
    has_row = at >= 0
    rows = frame[at[has_row]]
    x = np.full((dts.size, len(names)), np.nan, dtype=np.float32)
    x[has_row] = rows.select(names).to_numpy().astype(np.float32)
    warm = np.zeros(dts.size, dtype=bool)
    warm[has_row] = rows.select(pl.all_horizontal(_warm_columns(cfg, source)))[:, 0].to_numpy()
    keep = np.flatnonzero(warm & np.isfinite(x).all(axis=1))
    return TabularView(x[keep], dts[keep], tuple(names)), keep


def _sequence(source: BarSource, cfg: ModelConfig, names: list[str], dts: np.ndarray, L: int):
    bars = source.bars(cfg.timeframe)
    if cfg.feature_set == "raw_ohlcv":
        values, row_ts, valid = _raw_ohlcv(bars), _ns(bars["timestamp"]), np.ones(bars.height, bool)
    else:
        frame = source.features(cfg.timeframe)
        values = frame.select(names).to_numpy().astype(np.float32)
        row_ts = _ns(frame["timestamp"])
        valid = frame.select(pl.all_horizontal(_warm_columns(cfg, source)).alias("ok"))["ok"].to_numpy()
        if not bars["timestamp"].equals(frame["timestamp"]):
            raise ArtifactError(
                f"features/{cfg.timeframe}.parquet and data/bars_{cfg.timeframe}.parquet disagree; rerun `pipeline run --force`"
            )
    return build_window_view(values, row_ts, _segments(bars), valid, dts, L, feature_names=names)
