"""`mlfactory predict`: run a saved ensemble bundle on new raw bars.

The bundle carries everything inference needs (``serving.bundle``). New bars go through the same
ingest → validate → ladder → features path as training, with the run's fitted feature state
(fracdiff ``d`` fitted on the run's training rows — reused, never refitted on new data). The
decision times are the decision timeframe's bar closes; there are no labels. Every base predicts at
the decisions it can build (``adapters.model_inputs``, the same path training uses), the stack is
assembled with the bundle's coverage policy, and the kept combiner predicts. At a decision where a
base the combiner reads has no prediction, the bundle's fallback applies (``serving.fallback``).
Each output row says which bases it used (``bases_used``) and what combined them (``combiner``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from mlfactory.adapters.model_inputs import build_model_inputs
from mlfactory.adapters.stacking import probability_frame, stack_inputs
from mlfactory.config import PipelineConfig
from mlfactory.data.instruments import Instrument
from mlfactory.data.resample import build_ladder
from mlfactory.errors import ArtifactError
from mlfactory.evaluation import positions_from_probabilities
from mlfactory.features.mtf import DEFAULT_MTF_FEATURES
from mlfactory.features.registry import feature_specs
from mlfactory.features.store import build_feature_frame
from mlfactory.serving.bundle import Bundle, LoadedBase, load_bundle
from mlfactory.serving.conventions import InputOptions, read_new_bars
from mlfactory.serving.fallback import IMPUTED, fallback_bases, fallback_label, fallback_predictions

PREDICTION_COLUMNS: dict[str, str] = {
    "timestamp": "the decision time: the close of a decision-timeframe bar (UTC)",
    "p_short": "probability of class -1 (the lower barrier is hit first)",
    "p_neutral": "probability of class 0 (neither barrier within the horizon)",
    "p_long": "probability of class 1 (the upper barrier is hit first); the three sum to 1",
    "position": "the argmax class: -1, 0 or 1",
    "bases_used": "the bases (comma-separated) whose own prediction entered this row",
    "combiner": (
        "what produced this row: the kept combiner (`meta`, `weighted_average`, `best_base`) where every "
        "base it reads predicted; `<kept>(imputed)` on an impute bundle's row where some of them did not "
        "(their blocks imputed and masked); on a drop bundle's decision where some base cannot predict yet "
        "(warm-up), the fallback: `weighted_average(available)` (inverse-OOF-loss weights renormalised "
        "over the bases that predicted) or `best_base(available)` (the best-ranked base that predicted)"
    ),
}


class InferenceData:
    """Bars and features of new 1-minute bars, computed in memory with the bundle's fitted state."""

    def __init__(self, bars_1m: pl.DataFrame, bundle: Bundle) -> None:
        self.config: PipelineConfig = bundle.config
        self.instrument: Instrument = bundle.instrument
        self.fitted = bundle.fitted
        self.own_features = own_features_needed(bundle)
        self.ladder = build_ladder(
            bars_1m, self.config.ladder.timeframes, partial=self.config.ladder.partial_bars
        )
        self._features: dict[str, pl.DataFrame] = {}

    @property
    def decision_timeframe(self) -> str:
        return self.config.ladder.base_timeframe

    def decision_timestamps(self) -> np.ndarray:
        return self.ladder[self.decision_timeframe]["timestamp"].dt.epoch("ns").to_numpy()

    def bars(self, tf: str) -> pl.DataFrame:
        return self.ladder[tf]

    def features(self, tf: str) -> pl.DataFrame:
        if tf not in self._features:
            if tf not in self.fitted:
                raise ArtifactError(
                    f"bundle: no fitted feature state for {tf}; the run had no features on {tf}"
                )
            self._features[tf], _ = build_feature_frame(
                self.ladder, tf, self.instrument,
                mtf_timeframes=self.config.ladder.resolved_mtf_timeframes,
                mtf_names=self.config.features.mtf_features or DEFAULT_MTF_FEATURES,
                fitted=self.fitted[tf],
                names=self.own_features.get(tf),
            )  # fmt: skip
        return self._features[tf]


def predict_base(name: str, base: LoadedBase, data: InferenceData, clock: np.ndarray) -> pl.DataFrame:
    """One base's probabilities at the decisions of ``clock`` it can build."""
    inputs = build_model_inputs(data, base.config, clock)
    if len(inputs.timestamps) == 0:  # nothing to predict here (warm-up); models need at least one row
        return probability_frame(clock[:0], np.empty((0, 3)))
    missing = [f for f in base.features if f not in inputs.feature_names]
    if missing:
        raise ArtifactError(
            f"{name}: features {missing[:5]} the model was trained on cannot be built from the new bars"
        )
    cols = np.array([inputs.feature_names.index(f) for f in base.features])
    proba = base.model.predict_proba(inputs.view.select_columns(cols))
    return probability_frame(inputs.timestamps, proba)


def predict_bars(
    bundle: Bundle, bars_1m: pl.DataFrame, *, latest: int | None = None
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Probabilities and argmax positions at the decision times of validated 1-minute bars.

    ``latest=k`` predicts only the last ``k`` decisions (a live system's new bar); the history before
    them still feeds every feature and window.
    """
    return predict_data(bundle, InferenceData(bars_1m, bundle), latest=latest)


BasePredictor = Callable[[str, LoadedBase, InferenceData, np.ndarray], pl.DataFrame]


def predict_data(
    bundle: Bundle,
    data: InferenceData,
    *,
    latest: int | None = None,
    allow_empty: bool = False,
    predict: BasePredictor = predict_base,
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """``predict_bars`` on built bars and features (the live predictor passes its bounded tails).

    At a decision where a base the combiner reads has no prediction, the bundle's fallback applies
    (``serving.fallback``). ``allow_empty``: when no decision can be predicted (no base can predict
    there yet), return an empty frame instead of raising — batch has no row there either.
    ``predict`` computes a combiner base's predictions (the live predictor reuses unchanged ones).
    """
    spec = bundle.spec
    clock = data.decision_timestamps()
    if latest is not None:
        clock = clock[-latest:]
    used = combiner_bases(bundle)
    # the stack's base order is the fitted one (stack_columns), not ensemble.json's sorted keys
    order = list(dict.fromkeys(c.split("__")[0] for c in spec.stack_columns if not c.startswith("meta__")))
    order += [b for b in bundle.bases if b not in order]
    preds = {
        name: predict(name, bundle.bases[name], data, clock)
        if name in used
        else _unused_base(clock, spec.priors)
        for name in order
    }
    full = _covered(clock, [preds[n] for n in used], every=spec.coverage_policy == "drop")
    fallback = _fallback_inputs(bundle, data, clock, used, preds, full)
    info = {"decisions": len(clock), "kept": spec.combiner.candidate, "fallback": spec.fallback.rule}
    if allow_empty and not full.any() and fallback is None:
        return empty_predictions(), info | {"coverage": {}, "fallback_rows": 0}
    parts, report = [], {}
    if full.any() or fallback is None:  # with no row at all, the stack raises its coverage error
        rows, report = _combiner_rows(bundle, data, clock, preds, used)
        parts.append(rows)
    if fallback is not None:
        ts, proba, used_rows = fallback_predictions(spec, *fallback)
        parts.append(_rows(ts, proba, used_rows, [fallback_label(spec)] * len(ts)))
    result = pl.concat(parts).sort("timestamp") if len(parts) > 1 else parts[0]
    return result, info | {"coverage": report, "fallback_rows": int(fallback[0].size) if fallback else 0}


def _combiner_rows(
    bundle: Bundle,
    data: InferenceData,
    clock: np.ndarray,
    preds: dict[str, pl.DataFrame],
    used: tuple[str, ...],
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """The kept combiner on the stack of ``preds`` (the bundle's coverage policy) and the stack's report."""
    spec = bundle.spec
    regime = data.features(data.decision_timeframe) if spec.meta_features else None
    stack = stack_inputs(
        clock, preds, policy=spec.coverage_policy, priors=np.asarray(spec.priors),
        regime_features=regime, meta_features=spec.meta_features,
    )  # fmt: skip
    ts = stack.view.timestamps
    used_rows = _bases_used({n: preds[n] for n in used}, ts)
    kept = spec.combiner.candidate
    labels = [kept if u == ",".join(used) else kept + IMPUTED for u in used_rows]
    return _rows(ts, bundle.combiner.predict_proba(stack.view), used_rows, labels), stack.report


def _covered(clock: np.ndarray, frames: list[pl.DataFrame], *, every: bool) -> np.ndarray:
    """Per decision of ``clock``, whether every (or any) of ``frames`` predicted there."""
    have = [np.isin(clock, frame["timestamp"].dt.epoch("ns").to_numpy()) for frame in frames]
    if not have:
        return np.zeros(len(clock), bool)
    return np.logical_and.reduce(have) if every else np.logical_or.reduce(have)


def _fallback_inputs(
    bundle: Bundle,
    data: InferenceData,
    clock: np.ndarray,
    used: tuple[str, ...],
    preds: dict[str, pl.DataFrame],
    full: np.ndarray,
) -> tuple[np.ndarray, dict[str, pl.DataFrame]] | None:
    """The decisions the fallback predicts (not covered by the combiner, some fallback base predicted)
    and the fallback bases' predictions there, in rank order; None when there are none.

    A base outside the combiner (the best base's lower-ranked ones) is computed only at the
    decisions every higher-ranked base missed.
    """
    bases = fallback_bases(bundle.spec, used)
    rest = clock[~full]
    if not bases or not rest.size:
        return None
    out: dict[str, pl.DataFrame] = {}
    missing = rest
    for name in bases:
        if name in used:
            frame = preds[name].filter(np.isin(preds[name]["timestamp"].dt.epoch("ns").to_numpy(), rest))
        else:
            frame = predict_base(name, bundle.bases[name], data, missing) if missing.size else _none()
        out[name] = frame
        missing = missing[~np.isin(missing, frame["timestamp"].dt.epoch("ns").to_numpy())]
    have = _covered(rest, list(out.values()), every=False)
    return (rest[have], out) if have.any() else None


def _none() -> pl.DataFrame:
    return probability_frame(np.empty(0, np.int64), np.empty((0, 3)))


def _rows(ts: np.ndarray, proba: np.ndarray, used: list[str], combiner: list[str]) -> pl.DataFrame:
    """Output rows: probabilities, the argmax position, the bases used and what combined them."""
    return probability_frame(ts, proba).hstack(
        [
            pl.Series("position", positions_from_probabilities(proba, "argmax")),
            pl.Series("bases_used", used, dtype=pl.String),
            pl.Series("combiner", combiner, dtype=pl.String),
        ]
    )


def empty_predictions() -> pl.DataFrame:
    """No prediction, with the columns of ``predict_data``'s output."""
    return _rows(np.empty(0, np.int64), np.empty((0, 3)), [], [])


def combiner_bases(bundle: Bundle) -> tuple[str, ...]:
    """The bases the kept combiner reads: all for a meta-learner; those with a non-zero weight for the
    weighted average and the best base (a voting combiner). Only these are computed at inference."""
    weights = getattr(bundle.combiner, "weights_", None)
    if not isinstance(weights, dict):
        return tuple(bundle.bases)
    return tuple(b for b in bundle.bases if weights.get(b, 0.0) > 0.0)


def inference_bases(bundle: Bundle) -> tuple[str, ...]:
    """The bases inference may compute: the combiner's, then the ones its fallback may add (the best
    base's lower-ranked bases, computed only where the better ones cannot predict)."""
    used = combiner_bases(bundle)
    return used + tuple(b for b in fallback_bases(bundle.spec, used) if b not in used)


def _unused_base(clock: np.ndarray, priors: list[float]) -> pl.DataFrame:
    """A zero-weight base's block: the priors at every decision (it never changes the combination)."""
    return probability_frame(clock, np.tile(np.asarray(priors, np.float64), (len(clock), 1)))


def _bases_used(preds: dict[str, pl.DataFrame], timestamps: np.ndarray) -> list[str]:
    """Per output row, the bases (comma-separated) whose own prediction entered the stack there."""
    have = {name: set(frame["timestamp"].dt.epoch("ns").to_list()) for name, frame in preds.items()}
    return [",".join(n for n in preds if t in have[n]) for t in np.asarray(timestamps, np.int64).tolist()]


def own_features_needed(bundle: Bundle, bases: tuple[str, ...] | None = None) -> dict[str, list[str]]:
    """Per timeframe, the own (non-MTF) features the bases inference computes use — all it computes."""
    needed: dict[str, set[str]] = {}
    for loaded in (bundle.bases[b] for b in (inference_bases(bundle) if bases is None else bases)):
        if loaded.config.feature_set != "raw_ohlcv":
            needed.setdefault(loaded.config.timeframe, set()).update(
                f for f in loaded.features if "__" not in f
            )
    if bundle.spec.meta_features:
        tf = bundle.config.ladder.base_timeframe
        regime = [s.name for s in feature_specs(tf, bundle.instrument) if s.name.startswith("vol_regime")]
        needed.setdefault(tf, set()).update(regime[:1])
    return {tf: sorted(names) for tf, names in needed.items()}


def predict_bundle(
    bundle_dir: Path, data_path: Path, out: Path, options: InputOptions | None = None
) -> dict[str, Any]:
    """``mlfactory predict``: the bundle on a file read with its conventions (or ``options``)."""
    bundle = load_bundle(bundle_dir)
    new = read_new_bars(bundle, Path(data_path), options)
    result, info = predict_bars(bundle, new.bars)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    result.write_parquet(out) if out.suffix != ".csv" else result.write_csv(out)
    return {
        "bundle": str(bundle.directory),
        "data": str(data_path),
        "out": str(out),
        "rows_in": new.report.rows_in,
        "predicted": result.height,
        "conventions": new.conventions,
        **info,
    }
