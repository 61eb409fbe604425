"""The live predictor's run-data interface: bars and features of its bounded tails.

``TailData`` answers what ``serving.inference.InferenceData`` answers for a whole file, from the
tails the live ladder keeps: the timeframes' last bars, and features computed with the batch kernels
(``features.compute.compute_features`` with the bundle's fitted state). Given ``verify_tails``'
report, each feature is computed on its own verified tail and the frames hold the last rows a
decision reads; frames are reused until a bar of their timeframe (or, for MTF columns, of the
coarser timeframe) closes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import numpy as np
import polars as pl

from mlfactory.data.align import asof_rows
from mlfactory.features.compute import compute_features, context_features
from mlfactory.features.context import BarContext
from mlfactory.features.mtf import DEFAULT_MTF_FEATURES, mtf_column
from mlfactory.features.registry import feature_defs
from mlfactory.features.store import coarser_than
from mlfactory.serving.bundle import Bundle
from mlfactory.serving.inference import InferenceData
from mlfactory.serving.tails import feature_tails


class TailData(InferenceData):
    """The run-data interface over the live predictor's tails (no 1-minute history).

    With ``tails`` (``verify_tails``' report) and ``rows`` (``TailNeeds.rows``), each feature is
    computed on its own verified tail and the frames hold the last ``rows[tf]`` bars of each
    timeframe — what a decision reads; without them, every feature on the whole tail. With
    ``mtf_for``, only those timeframes get MTF indicator columns (the ones a base reads). Frames in
    ``cache`` are reused while ``last_closed`` (per timeframe, its last closed bar's stamp) holds the
    stamps they were computed at, for the timeframes they read.
    """

    def __init__(
        self,
        ladder: dict[str, pl.DataFrame],
        bundle: Bundle,
        own_features: dict[str, list[str]],
        cache: dict[str, tuple[Any, pl.DataFrame]],
        last_closed: dict[str, Any],
        tails: dict[str, Any] | None = None,
        rows: dict[str, int] | None = None,
        mtf_for: Collection[str] | None = None,
    ):
        self.config = bundle.config
        self.instrument = bundle.instrument
        self.fitted = bundle.fitted
        self.own_features = own_features
        self.ladder = ladder
        self._features = {}
        self._cache, self._last = cache, last_closed
        self._tails = tails or {}
        self._rows = rows or {}
        self._mtf_for = mtf_for  # None: MTF columns on every timeframe, as in batch

    def bars(self, tf: str) -> pl.DataFrame:
        """The timeframe's bars: the rows a decision reads, the frames' rows (``_compute``)."""
        if tf in self._tails and tf in self._rows:
            return self.ladder[tf].tail(self._rows[tf])
        return self.ladder[tf]

    def features(self, tf: str) -> pl.DataFrame:
        """A timeframe's frame, reused until a bar of it or of a coarser MTF timeframe closes.

        ``features.store.build_feature_frame`` step by step: the own features are reused until a bar
        of the timeframe closes, each coarser timeframe's indicator frame until a bar of that
        timeframe closes, and only their as-of join is redone (the parity tests hold it to the batch).
        """
        if tf not in self.fitted:
            return super().features(tf)  # raises the batch path's error
        joined = self._joined_timeframes(tf)
        version = tuple(self._last.get(t) for t in (tf, *joined))
        return self._reused(tf, version, lambda: self._frame(tf, joined))

    def _joined_timeframes(self, tf: str) -> list[str]:
        """The coarser timeframes whose indicator columns ``tf``'s frame holds."""
        if self._mtf_for is not None and tf not in self._mtf_for:  # no base reads them: not computed
            return []
        skipped = self.fitted[tf].get("mtf_skipped", {})
        return [h for h in coarser_than(tf, self.config.ladder.resolved_mtf_timeframes) if h not in skipped]

    def _frame(self, tf: str, joined: list[str]) -> pl.DataFrame:
        names = self.own_features.get(tf, [])
        own = self._reused(
            f"own:{tf}", self._last.get(tf), lambda: self._compute(tf, names, self.fitted[tf], "own")
        )
        base_ts = own["timestamp"].dt.epoch("ns").to_numpy()
        parts = [own]
        for h in joined:
            parts.append(
                self._reused(
                    f"join:{tf}:{h}",
                    (self._last.get(tf), self._last.get(h)),
                    lambda h=h: _join_closed(base_ts, self._higher(h), mtf_column("warm", h)),
                )
            )
        return pl.concat(parts, how="horizontal")

    def _higher(self, h: str) -> pl.DataFrame:
        """MTF indicator features of the closed ``h`` bars (``mtf_indicator_features`` before its join)."""

        def compute() -> pl.DataFrame:
            names = list(dict.fromkeys(self.config.features.mtf_features or DEFAULT_MTF_FEATURES))
            higher = self._compute(h, names, None, "mtf")
            return higher.rename({n: mtf_column(n, h) for n in names}).rename({"warm": mtf_column("warm", h)})

        return self._reused(f"mtf:{h}", self._last.get(h), compute)

    def _reused(self, key: str, version: Any, compute: Callable[[], pl.DataFrame]) -> pl.DataFrame:
        """The cached frame under ``key`` while its version (the stamps of the bars it reads) holds."""
        hit = self._cache.get(key)
        if hit is None or hit[0] != version:
            hit = (version, compute())
            self._cache[key] = hit
        return hit[1]

    def _compute(self, tf: str, names: list[str], fitted: Any, kind: str) -> pl.DataFrame:
        """``compute_features`` on the tail: each feature on its own verified tail when known."""
        bars = self.ladder[tf]
        lengths = self._tails.get(tf, {}).get(kind)
        if lengths is None or tf not in self._rows:  # no per-feature lengths: the whole tail
            return compute_features(bars, tf, self.instrument, fitted=fitted, names=names)[0]
        keep = min(self._rows[tf], bars.height)
        ctx = BarContext.from_bars(bars, tf, self.instrument)
        warm = np.ones(keep, dtype=bool)
        columns: dict[str, np.ndarray] = {}
        for size, group in feature_tails(lengths, names, default=bars.height).items():
            values, part_warm = context_features(ctx.tail(size), group, fitted)
            warm &= part_warm[-keep:]
            order = [d.spec.name for d in feature_defs(tf, self.instrument, group)]
            columns.update({n: values[j, -keep:] for j, n in enumerate(order)})
        order = [d.spec.name for d in feature_defs(tf, self.instrument, names)]
        stamps = bars["timestamp"].tail(keep)
        if not order:
            return pl.DataFrame({"timestamp": stamps, "warm": warm})
        values = pl.from_numpy(np.column_stack([columns[n] for n in order]), schema=order, orient="row")
        return values.insert_column(0, stamps).with_columns(pl.Series("warm", warm))


def _join_closed(base_ts: np.ndarray, higher: pl.DataFrame, warm: str) -> pl.DataFrame:
    """Per base stamp, the values of the latest ``higher`` bar closed at or before it: the as-of join
    of ``features.mtf.mtf_indicator_features`` as a gather (NaN and not warm before the first)."""
    at = asof_rows(higher["timestamp"].dt.epoch("ns").to_numpy(), base_ts)
    cols = [c for c in higher.columns if c not in ("timestamp", warm)]
    before = at < 0
    rows = np.maximum(at, 0)
    values = higher.select(cols).to_numpy().astype(np.float32)[rows]
    values[before] = np.nan
    is_warm = higher[warm].to_numpy()[rows]
    is_warm[before] = False
    return pl.DataFrame({**{c: values[:, j] for j, c in enumerate(cols)}, warm: is_warm})
