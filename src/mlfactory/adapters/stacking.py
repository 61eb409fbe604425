"""The stacked matrix a meta-learner sees: base probabilities as a 2D table on the decision clock.

Rows are decision timestamps; columns are ``<base>__p_short|p_neutral|p_long`` for each base, plus
optional meta-features (``meta__hour_sin``, ``meta__hour_cos`` from the decision time, and
``meta__vol_regime`` from the decision timeframe's causal volatility-regime feature). A row where
some base has no prediction (a sequence base's warm-up) is handled by an explicit policy:
``drop`` removes the row; ``impute`` fills the base's block with the training class priors and sets
``<base>__mask`` to 1. The counts are reported. Whatever the bases, the result is 2D (invariant 4).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import polars as pl

from mlfactory.adapters.views import TabularView
from mlfactory.data.align import asof_rows, exact_rows
from mlfactory.errors import ConfigError, DataError
from mlfactory.models.base import PROBA_COLUMNS

CoveragePolicy = Literal["drop", "impute"]


@dataclass(frozen=True)
class StackedMatrix:
    view: TabularView
    rows_on_clock: np.ndarray  # index into the clock timestamps of each kept row
    report: dict[str, Any]


def block_columns(base: str) -> list[str]:
    return [f"{base}__{c}" for c in PROBA_COLUMNS]


def stack_predictions(
    clock_ts: np.ndarray,
    predictions: Mapping[str, pl.DataFrame],
    *,
    policy: CoveragePolicy,
    priors: np.ndarray,
    meta_features: pl.DataFrame | None = None,
) -> StackedMatrix:
    """Join each base's (timestamp, p_short, p_neutral, p_long) onto ``clock_ts`` and apply ``policy``.

    A base with several predictions per timestamp (CPCV) is averaged per timestamp first. Columns:
    each base's block, then (impute) each base's mask, then the meta-features.
    """
    if policy not in ("drop", "impute"):
        raise ConfigError(f"coverage policy {policy!r}: use 'drop' or 'impute'")
    clock_ts = np.asarray(clock_ts, dtype=np.int64)
    priors = np.asarray(priors, dtype=np.float64)
    blocks, present = {}, {}
    for base, pred in predictions.items():
        blocks[base], present[base] = _block_on_clock(clock_ts, pred, base)
    all_present = np.logical_and.reduce(list(present.values()))
    report: dict[str, Any] = {
        "policy": policy,
        "clock_rows": len(clock_ts),
        "rows_all_bases": int(all_present.sum()),
        "missing_by_base": {b: int((~p).sum()) for b, p in present.items()},
    }
    names = [c for base in predictions for c in block_columns(base)]
    if policy == "drop":
        keep = np.flatnonzero(all_present)
        parts = [blocks[b][keep] for b in predictions]
    else:
        keep = np.flatnonzero(np.logical_or.reduce(list(present.values())))
        parts = [np.where(present[b][keep, None], blocks[b][keep], priors[None, :]) for b in predictions]
        parts += [(~present[b][keep, None]).astype(np.float64) for b in predictions]
        names += [f"{b}__mask" for b in predictions]
        report["rows_imputed"] = int(len(keep) - int(all_present[keep].sum()))
    report["rows_dropped"] = int(len(clock_ts) - len(keep))
    ts = clock_ts[keep]
    if meta_features is not None:
        at = exact_rows(meta_features["timestamp"].dt.epoch("ns").to_numpy(), ts)
        if (at < 0).any():
            raise DataError("meta-features: some decision timestamps have no meta-feature value")
        meta = meta_features.drop("timestamp")
        parts.append(meta.to_numpy().astype(np.float64)[at])
        names += meta.columns
    if len(keep) == 0:
        raise DataError(f"stacked matrix is empty (coverage {report}); the bases share no predicted rows")
    x = np.concatenate(parts, axis=1).astype(np.float32)
    return StackedMatrix(TabularView(x, ts, tuple(names)), keep, report)


def _block_on_clock(clock_ts: np.ndarray, pred: pl.DataFrame, base: str) -> tuple[np.ndarray, np.ndarray]:
    """A base's probabilities on the clock (NaN where it has none) and where it has them.

    Several predictions of one timestamp (CPCV) are averaged first (polars' mean, as the stack always
    did); the common case of one per timestamp is a searchsorted gather with no join.
    """
    ts = pred["timestamp"].dt.epoch("ns").to_numpy()
    if ts.size > 1 and not (np.diff(ts) > 0).all():
        pred = pred.group_by("timestamp").agg(pl.col(list(PROBA_COLUMNS)).mean()).sort("timestamp")
        ts = pred["timestamp"].dt.epoch("ns").to_numpy()
    values = pred.select(PROBA_COLUMNS).to_numpy().astype(np.float64)
    if np.isnan(values).any():
        raise DataError(f"stack: base {base!r} has NaN probabilities; a model must predict finite values")
    at = exact_rows(ts, clock_ts)
    found = at >= 0
    block = np.full((clock_ts.size, len(PROBA_COLUMNS)), np.nan)
    block[found] = values[at[found]]
    return block, found


def meta_feature_frame(decision_ts: np.ndarray, regime: pl.DataFrame | None) -> pl.DataFrame:
    """Hour-of-day (cyclical, from the decision time itself) and, when given, the causal volatility
    regime of the latest decision-timeframe bar closed at or before the decision (1.0 before any)."""
    ts = np.asarray(decision_ts, dtype=np.int64)
    hour, minute = (ts // 3_600_000_000_000) % 24, (ts // 60_000_000_000) % 60  # UTC
    hours = hour.astype(np.float64) + minute / 60.0
    columns = {
        "timestamp": pl.Series(ts).cast(pl.Datetime("ns", "UTC")),
        "meta__hour_sin": np.sin(2 * np.pi * hours / 24).astype(np.float32),
        "meta__hour_cos": np.cos(2 * np.pi * hours / 24).astype(np.float32),
    }
    if regime is not None:
        at = asof_rows(regime["timestamp"].dt.epoch("ns").to_numpy(), ts)
        values = regime[regime.columns[1]].cast(pl.Float64).fill_null(1.0).to_numpy()
        columns["meta__vol_regime"] = np.where(at >= 0, values[np.maximum(at, 0)], 1.0).astype(np.float32)
    return pl.DataFrame(columns)


def regime_frame(features: pl.DataFrame) -> pl.DataFrame | None:
    """(timestamp, volatility regime) of a decision-timeframe feature frame, None when it has none."""
    cols = [c for c in features.columns if c.startswith("vol_regime") and "__" not in c]
    return features.select("timestamp", cols[0]) if cols else None


def stack_inputs(
    clock_ts: np.ndarray,
    predictions: Mapping[str, pl.DataFrame],
    *,
    policy: CoveragePolicy,
    priors: np.ndarray,
    regime_features: pl.DataFrame | None,
    meta_features: bool,
) -> StackedMatrix:
    """``stack_predictions`` with the meta-features of ``clock_ts`` when ``meta_features`` is on."""
    feats = meta_feature_frame(clock_ts, regime_frame(regime_features)) if meta_features else None
    return stack_predictions(clock_ts, predictions, policy=policy, priors=priors, meta_features=feats)


def oof_correlation(predictions: Mapping[str, pl.DataFrame]) -> dict[str, Any]:
    """Pearson correlation of each base's directional score (p_long − p_short) on their common rows."""
    names = list(predictions)
    frame = None
    for base, pred in predictions.items():
        score = pred.group_by("timestamp").agg((pl.col("p_long") - pl.col("p_short")).mean().alias(base))
        frame = score if frame is None else frame.join(score, on="timestamp", how="inner")
    assert frame is not None
    if frame.height < 3:
        return {"names": names, "matrix": [[float("nan")] * len(names) for _ in names], "rows": frame.height}
    m = np.corrcoef(frame.select(names).to_numpy().T) if len(names) > 1 else np.ones((1, 1))
    return {"names": names, "matrix": np.round(np.atleast_2d(m), 4).tolist(), "rows": frame.height}


def block_probabilities(view: TabularView, base: str) -> np.ndarray:
    """One base's (short, neutral, long) block of a stacked matrix, renormalised."""
    names = list(view.feature_names)
    p = view.x[:, [names.index(c) for c in block_columns(base)]].astype(np.float64)
    return p / p.sum(axis=1, keepdims=True)


def probability_frame(ts: np.ndarray, proba: np.ndarray) -> pl.DataFrame:
    """(timestamp, p_short, p_neutral, p_long): one model's predictions, the unit the stack joins."""
    return pl.DataFrame(
        {
            "timestamp": pl.Series(ts).cast(pl.Datetime("ns", "UTC")),
            **{c: proba[:, j] for j, c in enumerate(PROBA_COLUMNS)},
        }
    )
