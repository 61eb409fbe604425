"""How many closed bars of each timeframe the live predictor keeps, and the proof that it is enough.

A feature computed on the last ``T`` bars equals the batch value on the whole history when ``T``
covers (a) its registry warm-up, (b) the start of the current session (session-anchored sums such
as VWAP), (c) a sequence base's window, and (d) enough bars for recursive smoothers (EMA, Wilder's
ATR/ADX, KAMA, ...) to forget their seed. (d) is not assumed: ``verify_tails`` recomputes every used
feature on the history and on tails of the proposed length and doubles the length until the second
half of each tail is bit-identical to the batch values (float32 features), so the kept length has a
2x margin on the data it was checked on.

A feature declared window-only (``FeatureSpec.window_only``: a wavelet transform of its trailing
window, a channel position, a rolling sum) is exact on any tail past its warm-up, so its tail is
its window plus the rows a decision reads — 256 bars for a 128-bar transform of 5m bars instead of
the 1,024 the session floor would give.

Some batch kernels never forget their start exactly: a running sum (TA-Lib's SMA inside STOCHRSI's
%D, polars' rolling standard deviation and moments) carries the rounding of every value it has added since the first bar, so
the batch value itself moves by ~1e-12 with the file's first row. Such a feature is held to the
float32 rounding of its values instead of bit identity once its tail reaches ``EXACT_TAIL`` bars
(``ROUNDING_RTOL``, ``ROUNDING_ATOL``; the report lists it under ``rounding`` with its largest
difference), so that a year of warm-up history keeps the same bounded tails as a month.

The length is found per feature, not per timeframe: an ATR over a trading day of 5m bars needs
~9,000 bars to forget its seed in float32 while a wavelet energy needs a few hundred, and at each
decision a feature is computed on its own tail (``feature_tails``) — the cost is the sum of the
features' own tails, not every feature on the longest one. A timeframe keeps the longest tail its
features need; the live predictor uses only the last ``rows`` values of each feature (the windows
and the as-of joins it serves), which lie in the verified half of every feature's tail.
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
from mlfactory.features.compute import context_features
from mlfactory.features.context import BarContext
from mlfactory.features.mtf import DEFAULT_MTF_FEATURES
from mlfactory.features.registry import feature_defs
from mlfactory.features.store import coarser_than
from mlfactory.models.base import InputKind, MtfStrategy
from mlfactory.serving.inference import inference_bases, own_features_needed
from mlfactory.timeframes import tf_minutes

# A first guess of the extra warm-ups recursive smoothers need to forget their seed in float32;
# verify_tails doubles the tail until the values agree with the whole history.
RECURSION_MARGIN = 2
ROWS_MARGIN = 8
MAX_TAIL = 200_000
# Past this many bars a feature still not bit-identical is held to its float32 rounding: two units in
# the last place of a float32 value (2**-22 relative), or 1e-9 near zero.
EXACT_TAIL = 32_768
ROUNDING_RTOL = 2.0**-22
ROUNDING_ATOL = 1e-9


@dataclass(frozen=True)
class TailNeeds:
    """Per timeframe: the features computed on it (with/without fitted state) and the bars needed."""

    own: dict[str, list[str]]  # features with the bundle's fitted state (a base's own timeframe)
    mtf: dict[str, list[str]]  # MTF indicator features computed on a coarser timeframe
    seq_len: dict[str, int]  # longest window a sequence base reads on the timeframe
    warmup: dict[str, int]  # registry warm-up of the features computed there
    session_bars: dict[str, int]
    rows: dict[str, int]  # feature rows a decision reads on the timeframe (``rows_needed``)
    mtf_for: frozenset[str] = frozenset()  # feature timeframes whose bases read MTF indicator columns

    @property
    def timeframes(self) -> tuple[str, ...]:
        return tuple(self.warmup)

    def minimum(self, tf: str) -> int:
        """Bars of ``tf`` before a decision can use it (warm-up plus a window)."""
        return self.warmup[tf] + self.seq_len.get(tf, 0) + 1

    def initial_length(self, tf: str, warmup: int | None = None) -> int:
        """A first tail length: a session, the warm-up with a margin, and the rows a decision reads."""
        w = self.warmup[tf] if warmup is None else warmup
        return self.session_bars[tf] + RECURSION_MARGIN * w + 2 * self.rows[tf]

    def rows_needed(self, tf: str, decision_tf: str) -> int:
        """Feature rows a decision reads: a sequence window plus the bars of ``tf`` that close between
        two decisions, with a margin (all must lie in the verified half of a feature's tail)."""
        between = math.ceil(tf_minutes(decision_tf) / tf_minutes(tf))
        return self.seq_len.get(tf, 0) + between + ROWS_MARGIN


def _warmup(tf: str, instrument: Instrument, names: Sequence[str]) -> int:
    return max((d.spec.warmup_bars for d in feature_defs(tf, instrument, names)), default=0)


def tail_needs(bundle: Any) -> TailNeeds:
    """What the bundle's bases, MTF columns and meta-features read, per timeframe."""
    cfg, inst = bundle.config, bundle.instrument
    mtf_all = cfg.ladder.resolved_mtf_timeframes
    mtf_names = list(cfg.features.mtf_features or DEFAULT_MTF_FEATURES)
    used = inference_bases(bundle)
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
    mtf_for = frozenset(
        loaded.config.timeframe
        for loaded in (bundle.bases[b] for b in used)
        if loaded.config.mtf_strategy == MtfStrategy.MTF_INDICATORS
        and loaded.config.feature_set not in ("raw", "raw_ohlcv")
    )
    mtf: dict[str, set[str]] = {}
    for tf in feature_tfs & mtf_for:  # the regime meta-feature's timeframe reads no MTF columns
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
    needs = TailNeeds(
        own={tf: sorted(n) for tf, n in own.items()},
        mtf={tf: sorted(n) for tf, n in mtf.items()},
        seq_len=seq,
        warmup=warm,
        session_bars={tf: math.ceil(minutes / tf_minutes(tf)) + 1 for tf in warm},
        rows={},
        mtf_for=mtf_for,
    )
    decision_tf = cfg.ladder.base_timeframe
    rows = {tf: needs.rows_needed(tf, decision_tf) for tf in warm}
    # an MTF frame is joined onto its finer timeframes' rows: it needs as many rows as they read
    for h in mtf:
        rows[h] = max(
            [rows[h], *(rows[tf] + 2 for tf in feature_tfs & mtf_for if h in coarser_than(tf, mtf_all))]
        )
    needs.rows.update(rows)
    return needs


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.array_equal(a, b, equal_nan=True))


def rounding_gap(a: np.ndarray, b: np.ndarray) -> float | None:
    """The largest ``|a - b|`` when ``a`` equals ``b`` within float32 rounding (NaN in the same
    places, ``|a - b| <= ROUNDING_ATOL + ROUNDING_RTOL * |b|``); None when it does not."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    if not np.array_equal(np.isnan(a64), np.isnan(b64)):
        return None
    ok = ~np.isnan(b64)
    gap = np.abs(a64[ok] - b64[ok])
    if (gap > ROUNDING_ATOL + ROUNDING_RTOL * np.abs(b64[ok])).any():
        return None
    return float(gap.max(initial=0.0))


def _feature_matrix(ctx: BarContext, names: Sequence[str], fitted: Any) -> np.ndarray:
    """``(rows, features)`` float32 values of ``names`` (in the given order) on ``ctx``."""
    if not names:
        return np.empty((len(ctx), 0), np.float32)
    values, _ = context_features(ctx, names, fitted)
    order = {d.spec.name: j for j, d in enumerate(feature_defs(ctx.tf, ctx.instrument, names))}
    return values[[order[n] for n in names]].T


def verify_tails(
    instrument: Instrument,
    fitted: dict[str, Any],
    needs: TailNeeds,
    ladder: dict[str, pl.DataFrame],
    exact_tail: int = EXACT_TAIL,
) -> dict[str, dict[str, Any]]:
    """Tail lengths per timeframe and per feature, checked on ``ladder`` (the warm-up history's batch ladder)
    with the bundle's fitted feature state (``fitted``, per timeframe).

    Returns ``{tf: {"length": T, "verified": bool, "checked_rows": n, "own": {feature: T_f},
    "mtf": {feature: T_f}, "rounding": {feature: largest difference}}}`` with ``T`` the longest ``T_f``;
    ``verified`` is False when the history is shorter than a tail (the tail then holds the whole
    history, which is exact); ``rounding`` lists the features held to float32 rounding past
    ``exact_tail`` bars instead of bit identity.
    """
    out: dict[str, dict[str, Any]] = {}
    for tf in needs.timeframes:
        bars = ladder[tf]
        rounding: dict[str, float] = {}
        own_names, mtf_names = needs.own.get(tf, []), needs.mtf.get(tf, [])
        own = _feature_lengths(bars, tf, instrument, needs, own_names, fitted.get(tf), exact_tail, rounding)
        mtf = _feature_lengths(bars, tf, instrument, needs, mtf_names, None, exact_tail, rounding)
        lengths = [v for v, _ in (*own.values(), *mtf.values())]
        length = max(lengths, default=needs.initial_length(tf))
        verified = bool(lengths) and all(ok for _, ok in (*own.values(), *mtf.values()))
        out[tf] = {
            "length": length,
            "verified": verified,
            "checked_rows": length - length // 2 if verified else 0,
            "own": {n: v for n, (v, _) in own.items()},
            "mtf": {n: v for n, (v, _) in mtf.items()},
            "rounding": rounding,
        }
    return out


def _feature_lengths(
    bars: pl.DataFrame,
    tf: str,
    inst: Instrument,
    needs: TailNeeds,
    names: list[str],
    fitted: Any,
    exact_tail: int,
    rounding: dict[str, float],
) -> dict[str, tuple[int, bool]]:
    """Per feature, the shortest doubled tail whose second half (a window-only feature: all rows past
    its warm-up) equals the whole history, and whether that was checked (False: the history is shorter
    than the tail). From ``exact_tail`` bars on, equal within float32 rounding is enough; such
    features are added to ``rounding`` with their largest gap."""
    if not names:
        return {}
    defs = {d.spec.name: d for d in feature_defs(tf, inst, names)}
    # powers of two, so that features share a few tails (one computation each per decision); a
    # window-only feature needs just its window and the rows a decision reads, exact from its warm-up on
    length = {
        n: _power_of_two(
            defs[n].spec.warmup_bars + 1 + needs.rows[tf]
            if defs[n].spec.window_only
            else needs.initial_length(tf, defs[n].spec.warmup_bars)
        )
        for n in names
    }
    checked_from = {n: defs[n].spec.warmup_bars if defs[n].spec.window_only else None for n in names}
    if bars.height <= max(length.values()):
        return {n: (max(length.values()), False) for n in names}
    ctx = BarContext.from_bars(bars, tf, inst)
    full = _feature_matrix(ctx, names, fitted)
    col = {n: j for j, n in enumerate(names)}
    done: dict[str, tuple[int, bool]] = {}
    pending = list(names)
    while pending:
        for size in sorted({length[n] for n in pending}):
            group = [n for n in pending if length[n] == size]
            if size >= bars.height:
                done.update({n: (size, False) for n in group})
                continue
            if size > MAX_TAIL:
                raise DataError(
                    f"live features on {tf}: {group[:3]} still differ from the whole history on a {size}-bar "
                    "tail, beyond float32 rounding; such a feature does not forget its start — it cannot be "
                    "served incrementally"
                )
            part = _feature_matrix(ctx.tail(size), group, fitted)
            for j, n in enumerate(group):
                start = checked_from[n] if checked_from[n] is not None else size // 2
                tail, whole = part[start:, j], full[bars.height - size + start :, col[n]]
                exact = _same(tail, whole)
                gap = None if exact or size < exact_tail else rounding_gap(tail, whole)
                if gap is not None:
                    rounding[n] = gap
                if exact or gap is not None:
                    done[n] = (size, True)
                else:
                    length[n] = size * 2
        pending = [n for n in pending if n not in done]
    return done


def _power_of_two(n: int) -> int:
    """The smallest power of two >= ``n``."""
    return 1 << (max(int(n), 1) - 1).bit_length()


def feature_tails(report: dict[str, Any], names: Sequence[str], default: int) -> dict[int, list[str]]:
    """``names`` grouped by the tail each is computed on (``verify_tails``' per-feature lengths)."""
    groups: dict[int, list[str]] = {}
    for n in names:
        groups.setdefault(int(report.get(n, default)), []).append(n)
    return groups
