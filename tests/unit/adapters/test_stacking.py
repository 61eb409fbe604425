"""The stacked matrix against a reference built with polars joins (the obvious way to write it)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from mlfactory.adapters.stacking import meta_feature_frame, probability_frame, stack_predictions
from mlfactory.errors import DataError
from mlfactory.models.base import PROBA_COLUMNS

PRIORS = np.array([0.3, 0.4, 0.3])


def _reference(
    clock: np.ndarray, preds: dict[str, pl.DataFrame], policy: str, meta: pl.DataFrame | None
) -> pl.DataFrame:
    frame = _blocks(clock, preds, policy)
    return frame if meta is None else frame.join(meta, on="timestamp", how="left", maintain_order="left")


def _blocks(clock: np.ndarray, preds: dict[str, pl.DataFrame], policy: str) -> pl.DataFrame:
    frame = pl.DataFrame({"timestamp": pl.Series(clock).cast(pl.Datetime("ns", "UTC"))})
    for base, pred in preds.items():
        per_ts = pred.group_by("timestamp").agg(pl.col(list(PROBA_COLUMNS)).mean())
        frame = frame.join(
            per_ts.rename({c: f"{base}__{c}" for c in PROBA_COLUMNS}),
            on="timestamp",
            how="left",
            maintain_order="left",
        )
    have = [frame[f"{b}__p_short"].is_not_null() for b in preds]
    if policy == "drop":
        return frame.filter(pl.all_horizontal(have))
    frame = frame.filter(pl.any_horizontal(have))
    fills = []
    for base in preds:
        cols = [f"{base}__{c}" for c in PROBA_COLUMNS]
        fills += [pl.col(c).fill_null(float(PRIORS[j])) for j, c in enumerate(cols)]
        fills.append(frame[cols[0]].is_null().cast(pl.Float32).alias(f"{base}__mask"))
    return frame.with_columns(fills)


def _predictions(
    rng: np.random.Generator, clock: np.ndarray, *, duplicates: bool, shuffled: bool
) -> pl.DataFrame:
    ts = clock[rng.random(clock.size) < 0.7]
    if duplicates:  # CPCV: a decision predicted by several test groups
        ts = np.sort(np.concatenate([ts, rng.choice(ts, ts.size // 3)]))
    if shuffled:
        ts = rng.permutation(ts)
    p = rng.dirichlet(np.ones(3), ts.size)
    return probability_frame(ts, p)


@pytest.mark.parametrize("policy", ["drop", "impute"])
@pytest.mark.parametrize("duplicates", [False, True])
@pytest.mark.parametrize("shuffled", [False, True])
@pytest.mark.parametrize("with_meta", [False, True])
def test_stack_equals_the_join_reference(policy, duplicates, shuffled, with_meta):
    rng = np.random.default_rng(7)
    clock = np.sort(rng.choice(10**15, 300, replace=False)).astype(np.int64)
    preds = {
        b: _predictions(rng, clock, duplicates=duplicates and b == "a", shuffled=shuffled) for b in "abc"
    }
    regime_ts = np.sort(rng.choice(clock, 100, replace=False)) - 1  # closed just before some decisions
    regime = pl.DataFrame(
        {
            "timestamp": pl.Series(regime_ts).cast(pl.Datetime("ns", "UTC")),
            "vol_regime_20_250": rng.random(100),
        }
    )
    meta = meta_feature_frame(clock, regime) if with_meta else None
    stack = stack_predictions(clock, preds, policy=policy, priors=PRIORS, meta_features=meta)
    ref = _reference(clock, preds, policy, meta)
    assert list(stack.view.feature_names) == [c for c in ref.columns if c != "timestamp"]
    np.testing.assert_array_equal(stack.view.timestamps, ref["timestamp"].dt.epoch("ns").to_numpy())
    np.testing.assert_array_equal(stack.view.x, ref.drop("timestamp").to_numpy().astype(np.float32))
    np.testing.assert_array_equal(clock[stack.rows_on_clock], stack.view.timestamps)


def test_a_nan_probability_is_refused_by_name():
    clock = np.arange(5, dtype=np.int64)
    bad = probability_frame(clock, np.full((5, 3), np.nan))
    with pytest.raises(DataError, match="base 'tcn' has NaN probabilities"):
        stack_predictions(clock, {"tcn": bad}, policy="drop", priors=PRIORS)


def test_meta_features_equal_the_polars_reference():
    rng = np.random.default_rng(3)
    clock = np.sort(rng.choice(np.arange(-(10**17), 10**18, 60 * 10**9), 500, replace=False)).astype(np.int64)
    regime = pl.DataFrame(
        {
            "timestamp": pl.Series(np.sort(rng.choice(clock, 200, replace=False)) - 7).cast(
                pl.Datetime("ns", "UTC")
            ),
            "vol_regime_20_250": pl.Series(np.where(rng.random(200) < 0.1, np.nan, rng.random(200))),
        }
    )
    ts = pl.Series(clock).cast(pl.Datetime("ns", "UTC"))
    hours = (ts.dt.hour() + ts.dt.minute() / 60.0).to_numpy()
    joined = pl.DataFrame({"timestamp": ts}).join_asof(regime, on="timestamp", strategy="backward")
    expected = pl.DataFrame(
        {
            "timestamp": ts,
            "meta__hour_sin": np.sin(2 * np.pi * hours / 24).astype(np.float32),
            "meta__hour_cos": np.cos(2 * np.pi * hours / 24).astype(np.float32),
            "meta__vol_regime": joined["vol_regime_20_250"].fill_null(1.0).cast(pl.Float32),
        }
    )
    assert meta_feature_frame(clock, regime).equals(expected)
