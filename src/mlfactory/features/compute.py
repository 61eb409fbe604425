"""Compute every registered feature of one timeframe: float32 columns, a ``warm`` flag, fitted state.

Features whose definition needs a statistic of the data (the fracdiff order ``d``) fit it on the
training rows only — ``timestamp <= fit_end`` — and return it in the fitted-state dict, which a
later call (validation, test, inference) passes back as ``fitted`` to reuse unchanged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from mlfactory.data.instruments import Instrument
from mlfactory.errors import ConfigError, DataError
from mlfactory.features.context import BarContext
from mlfactory.features.registry import feature_defs
from mlfactory.features.spec import FeatureDef

FITTED_STATE_VERSION = 1
Timestamp = dt.datetime | np.datetime64 | int


def to_utc_ns(value: Any, field: str) -> int:
    """A timestamp (tz-aware datetime, pandas/numpy timestamp, or int ns UTC) as int64 ns UTC."""
    if isinstance(value, bool):
        raise ConfigError(f"{field}: expected a timestamp, got {value!r}")
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, np.datetime64):
        return int(value.astype("datetime64[ns]").astype(np.int64))
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ConfigError(f"{field}: {value} has no timezone; pass a UTC-aware timestamp")
        return int(pl.Series([value]).dt.convert_time_zone("UTC").dt.cast_time_unit("ns").dt.epoch("ns")[0])
    raise ConfigError(
        f"{field}: expected a timestamp (tz-aware datetime or int ns UTC), got {type(value).__name__}"
    )


def _resolve_state(
    ctx: BarContext, defs: Sequence[FeatureDef], fit_end: Timestamp | None, fitted: dict[str, Any] | None
) -> dict[str, Any]:
    to_fit = [d for d in defs if d.fit is not None]
    if fitted is not None and fit_end is not None:
        raise ConfigError(
            "compute_features: pass either fit_end (fit on training rows) or fitted (reuse), not both"
        )
    if fitted is not None:
        if fitted.get("version") != FITTED_STATE_VERSION or fitted.get("timeframe") != ctx.tf:
            raise ConfigError(
                f"fitted: state for timeframe {fitted.get('timeframe')!r} (version {fitted.get('version')!r}) "
                f"cannot be reused on {ctx.tf!r}; refit with fit_end"
            )
        missing = [d.spec.name for d in to_fit if d.spec.name not in fitted.get("features", {})]
        if missing:
            raise ConfigError(f"fitted: no state for {missing}; refit with fit_end")
        ctx.state = {d.spec.name: fitted["features"][d.spec.name] for d in to_fit}
        return dict(fitted)  # a copy: callers add keys to the state they get, never to the bundle's
    state: dict[str, Any] = {
        "version": FITTED_STATE_VERSION,
        "timeframe": ctx.tf,
        "fit_end": None,
        "features": {},
    }
    if not to_fit:
        return state
    if fit_end is None:
        raise ConfigError(
            f"compute_features: {[d.spec.name for d in to_fit]} fit state on training rows; pass fit_end "
            "(the last training timestamp) or the fitted state of an earlier call"
        )
    end_ns = to_utc_ns(fit_end, "fit_end")
    n_fit = int(np.searchsorted(ctx.ts, end_ns, side="right"))
    state["fit_end"] = (
        pl.Series([end_ns]).cast(pl.Datetime("ns", "UTC")).dt.to_string("%Y-%m-%dT%H:%M:%S%.fZ")[0]
    )
    for d in to_fit:
        assert d.fit is not None
        state["features"][d.spec.name] = d.fit(ctx, n_fit)
    ctx.state = dict(state["features"])
    return state


def _check_values(name: str, values: np.ndarray, warmup: int, tf: str, ts: np.ndarray) -> None:
    inf = np.isinf(values)
    if inf.any():
        row = int(np.argmax(inf))
        raise DataError(
            f"feature {name} on {tf}: inf at row {row} ({_iso(ts[row])}); the feature cannot be computed"
        )
    bad = np.isnan(values[warmup:])
    if bad.any():
        row = warmup + int(np.argmax(bad))
        raise DataError(
            f"feature {name} on {tf}: NaN at row {row} ({_iso(ts[row])}) after its {warmup}-bar warm-up; "
            "the feature cannot be computed on these bars (check the input around that time)"
        )


def _check_matrix(defs: Sequence[FeatureDef], values: np.ndarray, tf: str, ts: np.ndarray) -> None:
    """``_check_values`` on every feature at once; the first failing feature (registry order) is named."""
    warm = np.array([d.spec.warmup_bars for d in defs], dtype=np.int64)[:, None]
    bad = np.isinf(values) | (np.isnan(values) & (np.arange(values.shape[1])[None, :] >= warm))
    if bad.any():
        j = int(np.flatnonzero(bad.any(axis=1))[0])
        _check_values(defs[j].spec.name, values[j], defs[j].spec.warmup_bars, tf, ts)


def _iso(ns: int) -> str:
    return str(np.datetime64(int(ns), "ns")) + "Z"


def compute_features(
    bars: pl.DataFrame,
    tf: str,
    instrument: Instrument,
    *,
    fit_end: Timestamp | None = None,
    fitted: dict[str, Any] | None = None,
    names: Sequence[str] | None = None,
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Features of ``bars`` (one timeframe) → (``timestamp`` + float32 columns + ``warm``, fitted state).

    ``warm`` is True from the row where every computed feature is past its warm-up; no column holds
    inf, and none holds NaN from its own warm-up on (``DataError`` naming the feature otherwise).
    ``names`` restricts the computation to a subset of the registry (registry order is kept).
    """
    ctx = BarContext.from_bars(bars, tf, instrument)
    defs = feature_defs(tf, instrument, names)
    state = _resolve_state(ctx, defs, fit_end, fitted)
    values, warm = _feature_values(ctx, defs)
    columns = {d.spec.name: values[j] for j, d in enumerate(defs)}
    frame = pl.DataFrame({"timestamp": bars["timestamp"], **columns, "warm": warm})
    return frame, state


def context_features(
    ctx: BarContext, names: Sequence[str], fitted: dict[str, Any] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``compute_features`` on a built context (e.g. ``BarContext.tail``): a ``(features, rows)``
    float32 matrix in registry order of ``names``, and the ``warm`` flags."""
    defs = feature_defs(ctx.tf, ctx.instrument, names)
    _resolve_state(ctx, defs, None, fitted)
    return _feature_values(ctx, defs)


def _feature_values(ctx: BarContext, defs: Sequence[FeatureDef]) -> tuple[np.ndarray, np.ndarray]:
    n = len(ctx)
    values = np.empty((len(defs), n), dtype=np.float32)  # one row per feature: contiguous columns
    for j, d in enumerate(defs):
        column = np.asarray(d.compute(ctx), dtype=np.float64)
        if column.shape != (n,):
            raise RuntimeError(f"feature {d.spec.name} returned shape {column.shape}, expected ({n},)")
        values[j] = column
    _check_matrix(defs, values, ctx.tf, ctx.ts)
    warmup = max((d.spec.warmup_bars for d in defs), default=0)
    return values, np.arange(n) >= warmup
