"""What one model sees: its own timeframe, MTF strategy and feature set, on the run's decision clock.

Every model of a run predicts at the same decision timestamps (the labels' timestamps), against
the same labels, on the same splits (DESIGN.md invariant 2). A model on a coarser timeframe joins
its latest *closed* bar as-of each decision time; a sequence model's window ends at that bar. The
decisions a model cannot build (warm-up, a window that would cross a session break) are reported in
``coverage``, never filled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from mlfactory.adapters.views import TabularView
from mlfactory.adapters.windows import build_multistream_view, build_window_view
from mlfactory.data.align import asof_align
from mlfactory.errors import ArtifactError, ConfigError
from mlfactory.features.registry import feature_specs
from mlfactory.models.base import Dataset, InputKind, MtfStrategy
from mlfactory.models.config import ModelConfig
from mlfactory.training.run_data import RunData

FEATURE_SETS = ("all", "engineered", "engineered_mtf", "raw", "raw_ohlcv")
RAW_OHLCV = ("open", "high", "low", "close", "log_volume")


@dataclass(frozen=True)
class ModelData:
    """A model's dataset on the decision clock, with each row's label end and split."""

    dataset: Dataset
    t1: np.ndarray  # int64 ns, aligned with dataset rows
    split: np.ndarray  # "train" | "val" | "test" | "excluded"
    ret: np.ndarray
    feature_names: tuple[str, ...]
    coverage: dict[str, Any]

    @property
    def timestamps(self) -> np.ndarray:
        return self.dataset.timestamps

    def rows(self, split: str) -> np.ndarray:
        return np.flatnonzero(self.split == split)


def _ns(s: pl.Series) -> np.ndarray:
    return s.dt.epoch("ns").to_numpy()


def feature_columns(data: RunData, cfg: ModelConfig) -> list[str]:
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
        for h in cfg.mtf_timeframes:
            cols = [c for c in frame.columns if c.endswith(f"__{h}") and not c.startswith("warm__")]
            if not cols:
                raise ConfigError(
                    f"{cfg.source}: model {cfg.model!r} wants MTF indicators from {h}, but features/{cfg.timeframe}.parquet has none "
                    f"(MTF from {h} may have been skipped for a short history, or {h} is not in ladder.mtf_timeframes); "
                    "change mtf_timeframes or rerun the pipeline with more data"
                )
            mtf += cols
    return own + mtf


def _warm_columns(cfg: ModelConfig) -> list[str]:
    warm = ["warm"]
    if cfg.mtf_strategy == MtfStrategy.MTF_INDICATORS and cfg.feature_set not in ("raw", "raw_ohlcv"):
        warm += [f"warm__{h}" for h in cfg.mtf_timeframes]
    return warm


def _raw_ohlcv(bars: pl.DataFrame) -> np.ndarray:
    return (
        bars.select("open", "high", "low", "close", pl.col("volume").log1p().alias("log_volume"))
        .to_numpy()
        .astype(np.float32)
    )


def _segments(bars: pl.DataFrame) -> np.ndarray:
    """Segment id per bar: a new segment at every trading-day change (session break or weekend)."""
    day = bars["trading_day"]
    return (day != day.shift(1)).fill_null(True).cum_sum().to_numpy()


STREAM_BREAK_NS = 6 * 3600 * 1_000_000_000


def _stream_segments(bars: pl.DataFrame) -> np.ndarray:
    """Segments of a multi-stream input: broken by gaps over 6 h (weekends, holidays, outages).

    Raw OHLCV streams of coarse timeframes (a 64-bar 15m window spans 16 h) would lose most
    decisions if they could not span the one-hour daily break, so multi-stream windows may cross
    it; they never span a weekend or a holiday closure.
    """
    ts = _ns(bars["timestamp"])
    return np.concatenate(([0], np.cumsum(np.diff(ts) > STREAM_BREAK_NS)))


def build_model_data(
    data: RunData, cfg: ModelConfig, horizon: int, *, seq_len: int | None = None
) -> ModelData:
    """Align ``cfg``'s inputs to the decision clock of ``horizon``'s labels."""
    cls = cfg.model_cls
    labels = data.labels(horizon)
    dts = _ns(labels["timestamp"])
    names = feature_columns(data, cfg)
    if cls.input_kind == InputKind.TABULAR:
        frame = data.features(cfg.timeframe)
        warm = frame.select(pl.all_horizontal(_warm_columns(cfg)).alias("_ok"))["_ok"]
        right = frame.select("timestamp", *names).with_columns(warm.alias("_ok"))
        joined = asof_align(labels["timestamp"], right)
        x = joined.select(names).to_numpy().astype(np.float32)
        ok = joined["_ok"].fill_null(False).to_numpy() & np.isfinite(x).all(axis=1)
        keep = np.flatnonzero(ok)
        view = TabularView(x[keep], dts[keep], tuple(names))
    elif cls.input_kind == InputKind.SEQUENCE:
        L = int(seq_len or getattr(cfg.params, "seq_len", 32))
        bars = data.bars(cfg.timeframe)
        if cfg.feature_set == "raw_ohlcv":
            values, row_ts, valid = _raw_ohlcv(bars), _ns(bars["timestamp"]), np.ones(bars.height, bool)
            seg = _segments(bars)
        else:
            frame = data.features(cfg.timeframe)
            values = frame.select(names).to_numpy().astype(np.float32)
            row_ts = _ns(frame["timestamp"])
            valid = frame.select(pl.all_horizontal(_warm_columns(cfg)).alias("ok"))["ok"].to_numpy()
            if not bars["timestamp"].equals(frame["timestamp"]):
                raise ArtifactError(
                    f"features/{cfg.timeframe}.parquet and data/bars_{cfg.timeframe}.parquet disagree; rerun `pipeline run --force`"
                )
            seg = _segments(bars)
        view = build_window_view(values, row_ts, seg, valid, dts, L, feature_names=names)
        keep = np.searchsorted(dts, view.timestamps)
    else:
        L = int(seq_len or getattr(cfg.params, "seq_len", 32))
        streams = {}
        for tf in (cfg.timeframe, *cfg.mtf_timeframes):
            bars = data.bars(tf)
            streams[tf] = (
                _raw_ohlcv(bars),
                _ns(bars["timestamp"]),
                _stream_segments(bars),
                np.ones(bars.height, bool),
            )
        view = build_multistream_view(streams, dts, L, feature_names=RAW_OHLCV)
        keep = np.searchsorted(dts, view.timestamps)
    y = labels["label"].to_numpy()[keep].astype(np.int8)
    w = labels["weight"].to_numpy()[keep]
    dataset = Dataset(view, y, w)
    split = labels["split"].to_numpy()[keep]
    coverage = {
        "decisions": len(dts),
        "built": len(keep),
        "fraction": round(len(keep) / max(len(dts), 1), 4),
        "by_split": {s: int((split == s).sum()) for s in ("train", "val", "test")},
        "dropped": len(dts) - len(keep),
    }
    return ModelData(
        dataset, _ns(labels["t1"])[keep], split, labels["ret"].to_numpy()[keep], tuple(names), coverage
    )
