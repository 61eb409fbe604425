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

    A base with several predictions per timestamp (CPCV) is averaged per timestamp first.
    """
    if policy not in ("drop", "impute"):
        raise ConfigError(f"coverage policy {policy!r}: use 'drop' or 'impute'")
    clock = pl.DataFrame({"timestamp": pl.Series(clock_ts).cast(pl.Datetime("ns", "UTC"))})
    frame = clock
    present = {}
    for base, pred in predictions.items():
        per_ts = pred.group_by("timestamp").agg(pl.col(list(PROBA_COLUMNS)).mean())
        block = per_ts.rename({c: f"{base}__{c}" for c in PROBA_COLUMNS})
        frame = frame.join(block, on="timestamp", how="left", maintain_order="left")
        present[base] = frame[f"{base}__p_short"].is_not_null().to_numpy()
    all_present = np.logical_and.reduce(list(present.values()))
    report: dict[str, Any] = {
        "policy": policy,
        "clock_rows": len(clock_ts),
        "rows_all_bases": int(all_present.sum()),
        "missing_by_base": {b: int((~p).sum()) for b, p in present.items()},
    }
    if policy == "drop":
        keep = np.flatnonzero(all_present)
        frame = frame[keep]
        report["rows_dropped"] = int(len(clock_ts) - len(keep))
    else:
        keep = np.flatnonzero(np.logical_or.reduce(list(present.values())))
        frame = frame[keep]
        fills = []
        for base in predictions:
            cols = block_columns(base)
            mask = frame[cols[0]].is_null()
            fills += [pl.col(c).fill_null(float(priors[j])) for j, c in enumerate(cols)]
            fills.append(mask.cast(pl.Float32).alias(f"{base}__mask"))
        frame = frame.with_columns(fills)
        report["rows_imputed"] = int(len(keep) - int(all_present[keep].sum()))
        report["rows_dropped"] = int(len(clock_ts) - len(keep))
    if meta_features is not None:
        frame = frame.join(meta_features, on="timestamp", how="left", maintain_order="left")
        if frame.select(pl.exclude("timestamp").is_null().any()).to_numpy().any():
            raise DataError("meta-features: some decision timestamps have no meta-feature value")
    if frame.height == 0:
        raise DataError(f"stacked matrix is empty (coverage {report}); the bases share no predicted rows")
    names = [c for c in frame.columns if c != "timestamp"]
    x = frame.select(names).to_numpy().astype(np.float32)
    ts = frame["timestamp"].dt.epoch("ns").to_numpy()
    return StackedMatrix(TabularView(x, ts, tuple(names)), keep, report)


def meta_feature_frame(decision_ts: np.ndarray, regime: pl.DataFrame | None) -> pl.DataFrame:
    """Hour-of-day (cyclical, from the decision time itself) and, when given, the causal volatility regime."""
    ts = pl.Series(decision_ts).cast(pl.Datetime("ns", "UTC"))
    hours = (ts.dt.hour() + ts.dt.minute() / 60.0).to_numpy()
    frame = pl.DataFrame(
        {
            "timestamp": ts,
            "meta__hour_sin": np.sin(2 * np.pi * hours / 24).astype(np.float32),
            "meta__hour_cos": np.cos(2 * np.pi * hours / 24).astype(np.float32),
        }
    )
    if regime is not None:
        joined = pl.DataFrame({"timestamp": ts}).join_asof(regime, on="timestamp", strategy="backward")
        frame = frame.with_columns(
            joined[regime.columns[1]].fill_null(1.0).cast(pl.Float32).alias("meta__vol_regime")
        )
    return frame


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
