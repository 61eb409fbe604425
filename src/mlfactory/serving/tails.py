"""How many closed bars of each timeframe the live predictor keeps, and the proof that it is enough.

A feature computed on the last ``T`` bars equals the batch value on the whole history when ``T``
covers (a) its registry warm-up, (b) the start of the current session (session-anchored sums such
as VWAP), (c) a sequence base's window, and (d) enough bars for recursive smoothers (EMA, Wilder's
ATR/ADX, KAMA, ...) to forget their seed. (d) is not assumed: ``verify_tails`` recomputes every used
feature on the history and on tails of the proposed length and doubles the length until the second
half of each tail is bit-identical to the batch values (float32 features), so the kept length has a
2x margin on the data it was checked on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from mlfactory.data.instruments import Instrument
from mlfactory.errors import DataError
from mlfactory.features.compute import compute_features
from mlfactory.features.mtf import DEFAULT_MTF_FEATURES
from mlfactory.features.registry import feature_defs
from mlfactory.features.store import coarser_than
from mlfactory.models.base import InputKind
from mlfactory.serving.inference import combiner_bases, own_features_needed
from mlfactory.timeframes import tf_minutes

# A first guess of the extra warm-ups recursive smoothers need to forget their seed in float32;
# verify_tails doubles the tail until the values agree with the whole history.
RECURSION_MARGIN = 2
MAX_TAIL = 200_000


@dataclass(frozen=True)
class TailNeeds:
    """Per timeframe: the features computed on it (with/without fitted state) and the bars needed."""

    own: dict[str, list[str]]  # features with the bundle's fitted state (a base's own timeframe)
    mtf: dict[str, list[str]]  # MTF indicator features computed on a coarser timeframe
    seq_len: dict[str, int]  # longest window a sequence base reads on the timeframe
    warmup: dict[str, int]  # registry warm-up of the features computed there
    session_bars: dict[str, int]

    @property
    def timeframes(self) -> tuple[str, ...]:
        return tuple(self.warmup)

    def minimum(self, tf: str) -> int:
        """Bars of ``tf`` before a decision can use it (warm-up plus a window)."""
        return self.warmup[tf] + self.seq_len.get(tf, 0) + 1

    def initial_length(self, tf: str) -> int:
        w = self.warmup[tf]
        return self.session_bars[tf] + RECURSION_MARGIN * w + self.seq_len.get(tf, 0) + 1


def _warmup(tf: str, instrument: Instrument, names: Sequence[str]) -> int:
    return max((d.spec.warmup_bars for d in feature_defs(tf, instrument, names)), default=0)


def tail_needs(bundle: Any) -> TailNeeds:
    """What the bundle's bases, MTF columns and meta-features read, per timeframe."""
    cfg, inst = bundle.config, bundle.instrument
    mtf_all = cfg.ladder.resolved_mtf_timeframes
    mtf_names = list(cfg.features.mtf_features or DEFAULT_MTF_FEATURES)
    used = combiner_bases(bundle)
    own: dict[str, set[str]] = {tf: set(n) for tf, n in own_features_needed(bundle, used).items()}
    seq: dict[str, int] = {}
    tfs: set[str] = {cfg.ladder.base_timeframe}
    for loaded in (bundle.bases[b] for b in used):
        mc = loaded.config
        kind = mc.model_cls.input_kind
        L = int(getattr(mc.params, "seq_len", 32)) if kind != InputKind.TABULAR else 0
        streams = (mc.timeframe, *mc.mtf_timeframes) if kind == InputKind.MULTISTREAM else (mc.timeframe,)
        for tf in streams:
            tfs.add(tf)
            seq[tf] = max(seq.get(tf, 0), L)
    feature_tfs = set(own)
    mtf: dict[str, set[str]] = {}
    for tf in feature_tfs:
        skipped = bundle.fitted.get(tf, {}).get("mtf_skipped", {})
        for h in coarser_than(tf, mtf_all):
            if h not in skipped:
                mtf.setdefault(h, set()).update(mtf_names)
    tfs |= feature_tfs | set(mtf)
    minutes = inst.session.trading_minutes_per_day
    warm = {
        tf: max(_warmup(tf, inst, sorted(own.get(tf, ()))), _warmup(tf, inst, sorted(mtf.get(tf, ()))))
        for tf in sorted(tfs, key=tf_minutes)
    }
    return TailNeeds(
        own={tf: sorted(n) for tf, n in own.items()},
        mtf={tf: sorted(n) for tf, n in mtf.items()},
        seq_len=seq,
        warmup=warm,
        session_bars={tf: math.ceil(minutes / tf_minutes(tf)) + 1 for tf in warm},
    )


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.array_equal(a, b, equal_nan=True))


def _feature_matrix(bars: pl.DataFrame, tf: str, inst: Instrument, names, fitted) -> np.ndarray:
    if not names:
        return np.empty((bars.height, 0), np.float32)
    frame, _ = compute_features(bars, tf, inst, fitted=fitted, names=names)
    return frame.select(names).to_numpy()


def verify_tails(bundle: Any, needs: TailNeeds, ladder: dict[str, pl.DataFrame]) -> dict[str, dict[str, Any]]:
    """Tail length per timeframe, checked on ``ladder`` (the warm-up history's batch ladder).

    Returns ``{tf: {"length": T, "verified": bool, "checked_rows": n}}``; ``verified`` is False when the
    history is shorter than the tail (the tail then holds the whole history, which is exact).
    """
    inst = bundle.instrument
    out: dict[str, dict[str, Any]] = {}
    for tf in needs.timeframes:
        bars = ladder[tf]
        own, mtf = needs.own.get(tf, []), needs.mtf.get(tf, [])
        fitted = bundle.fitted.get(tf) if own else None
        length = needs.initial_length(tf)
        if bars.height <= length or not (own or mtf):
            out[tf] = {"length": length, "verified": False, "checked_rows": 0}
            continue
        full = np.hstack(
            [_feature_matrix(bars, tf, inst, own, fitted), _feature_matrix(bars, tf, inst, mtf, None)]
        )
        while True:
            tail = bars.tail(length)
            part = np.hstack(
                [_feature_matrix(tail, tf, inst, own, fitted), _feature_matrix(tail, tf, inst, mtf, None)]
            )
            half = length // 2
            if _same(part[half:], full[bars.height - length + half :]):
                out[tf] = {"length": length, "verified": True, "checked_rows": length - half}
                break
            length *= 2
            if length >= bars.height:
                out[tf] = {"length": length, "verified": False, "checked_rows": 0}
                break
            if length > MAX_TAIL:
                raise DataError(
                    f"live features on {tf}: values on a {length}-bar tail still differ from the whole history; "
                    "a feature of this bundle does not forget its start — it cannot be served incrementally"
                )
    return out
