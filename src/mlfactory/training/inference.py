"""`mlfactory predict`: run a saved ensemble bundle on new raw bars.

The bundle (``RUN/ensembles/<id>/``) carries everything inference needs: the pipeline config and
instrument of its run, the fitted feature state (fracdiff ``d`` fitted on the run's training rows —
reused, never refitted on new data), each base's routing (timeframe, MTF strategy, exact feature
columns) and model, the meta-learner and the guard's choice. New bars go through the same
ingest → validate → ladder → features path; every base predicts at the decision timestamps it can
build, the stack is assembled with the bundle's coverage policy, and the kept combiner predicts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from mlfactory.config import PipelineConfig
from mlfactory.data.instruments import Instrument
from mlfactory.data.resample import build_ladder
from mlfactory.errors import ArtifactError
from mlfactory.evaluation import positions_from_probabilities
from mlfactory.features.mtf import DEFAULT_MTF_FEATURES
from mlfactory.features.registry import feature_specs
from mlfactory.features.store import build_feature_frame
from mlfactory.models.base import PROBA_COLUMNS, Model
from mlfactory.models.config import ModelConfig, model_config_from_mapping
from mlfactory.models.registry import get_model_class
from mlfactory.pipeline import load_and_validate
from mlfactory.training.model_data import build_model_data
from mlfactory.training.stacking import meta_feature_frame, stack_predictions

BUNDLE_FORMAT = "mlfactory-ensemble/1"


class InferenceData:
    """The run-data interface ``build_model_data`` reads, built in memory from new bars."""

    def __init__(
        self,
        bars_1m: pl.DataFrame,
        config: PipelineConfig,
        instrument: Instrument,
        fitted: dict[str, Any],
        own_features: dict[str, list[str]] | None = None,
    ):
        self.config = config
        self.instrument = instrument
        self.fitted = fitted
        self.own_features = own_features or {}
        self.ladder = build_ladder(bars_1m, config.ladder.timeframes, partial=config.ladder.partial_bars)
        self._features: dict[str, pl.DataFrame] = {}

    @property
    def decision_timeframe(self) -> str:
        return self.config.ladder.base_timeframe

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

    @cached_property
    def _clock(self) -> pl.DataFrame:
        ts = self.ladder[self.decision_timeframe]["timestamp"]
        n = len(ts)
        return pl.DataFrame(
            {"timestamp": ts, "label": np.zeros(n, np.int8), "t1": ts, "ret": np.zeros(n), "barrier": np.zeros(n, np.int8),
             "weight": np.ones(n), "split": ["test"] * n}
        )  # fmt: skip

    def labels(self, horizon: int) -> pl.DataFrame:
        """The unlabelled decision clock (every base-timeframe bar), shaped like a labels file."""
        return self._clock


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ArtifactError(
            f"{path}: missing from the bundle; train the ensemble again with `mlfactory train-ensemble`"
        )
    return json.loads(path.read_text())


@dataclass(frozen=True)
class LoadedBase:
    config: ModelConfig
    model: Model
    features: list[str]


@dataclass(frozen=True)
class Bundle:
    """A loaded ensemble bundle: everything needed to predict, read once."""

    directory: Path
    spec: dict[str, Any]
    config: PipelineConfig
    instrument: Instrument
    fitted: dict[str, Any]
    bases: dict[str, LoadedBase]
    meta: Model | None
    own_features: dict[str, list[str]]  # per timeframe, the own features its models use


def load_bundle(bundle_dir: Path) -> Bundle:
    bundle_dir = Path(bundle_dir)
    spec = _read_json(bundle_dir / "ensemble.json")
    if spec.get("format") != BUNDLE_FORMAT:
        raise ArtifactError(f"{bundle_dir}: not an mlfactory ensemble bundle (format {spec.get('format')!r})")
    bases = {}
    for base, entry in spec["bases"].items():
        routing = _read_json(bundle_dir / entry["routing"])
        cls = get_model_class(routing["model"])
        cfg = model_config_from_mapping(
            cls,
            {k: routing[k] for k in ("timeframe", "mtf_strategy", "mtf_timeframes", "feature_set", "params")},
            source=str(bundle_dir / entry["routing"]),
        )
        bases[base] = LoadedBase(cfg, cls.load(bundle_dir / entry["directory"]), list(routing["features"]))
    meta = None
    if spec["kept"] == "meta":
        meta = get_model_class(spec["meta_learner"]["name"]).load(
            bundle_dir / spec["meta_learner"]["directory"]
        )
    config = PipelineConfig.model_validate(spec["pipeline_config"])
    instrument = Instrument.model_validate(spec["instrument"])
    return Bundle(
        bundle_dir,
        spec,
        config,
        instrument,
        _read_json(bundle_dir / "features_fitted_state.json"),
        bases,
        meta,
        _own_features_needed(bases, spec, config, instrument),
    )


def predict_bars(
    bundle: Bundle, bars_1m: pl.DataFrame, *, latest: int | None = None
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Probabilities and argmax positions at the decision times of validated 1-minute bars.

    ``latest=k`` predicts only the last ``k`` decisions (a live system's new bar); the history before
    them still feeds every feature and window.
    """
    spec = bundle.spec
    data = InferenceData(bars_1m, bundle.config, bundle.instrument, bundle.fitted, bundle.own_features)
    h = int(spec["horizon"])
    clock = data.labels(h)["timestamp"].dt.epoch("ns").to_numpy()
    if latest is not None:
        clock = clock[-latest:]
    preds: dict[str, pl.DataFrame] = {}
    for base, loaded in bundle.bases.items():
        md = build_model_data(data, loaded.config, h)  # type: ignore[arg-type]
        missing = [f for f in loaded.features if f not in md.feature_names]
        if missing:
            raise ArtifactError(
                f"{base}: features {missing[:5]} the model was trained on cannot be built from the new bars"
            )
        cols = np.array([md.feature_names.index(f) for f in loaded.features])
        rows = np.flatnonzero(md.timestamps >= clock[0])
        proba = loaded.model.predict_proba(md.dataset.x.select_columns(cols).subset(rows))
        preds[base] = pl.DataFrame(
            {
                "timestamp": pl.Series(md.timestamps[rows]).cast(pl.Datetime("ns", "UTC")),
                **{c: proba[:, j] for j, c in enumerate(PROBA_COLUMNS)},
            }
        )
    feats = None
    if spec["meta_features"]:
        frame = data.features(data.decision_timeframe)
        cols = [c for c in frame.columns if c.startswith("vol_regime") and "__" not in c]
        feats = meta_feature_frame(clock, frame.select("timestamp", cols[0]) if cols else None)
    stack = stack_predictions(
        clock, preds, policy=spec["coverage_policy"], priors=np.asarray(spec["priors"]), meta_features=feats
    )
    kept = spec["kept"]
    if bundle.meta is not None:
        proba = bundle.meta.predict_proba(stack.view)
    else:
        names = list(stack.view.feature_names)
        bases = [spec["best_base"]] if kept == "best_base" else list(spec["bases"])
        weights = {spec["best_base"]: 1.0} if kept == "best_base" else spec["weights"]
        proba = np.asarray(
            sum(
                weights[b] * stack.view.x[:, [names.index(f"{b}__{c}") for c in PROBA_COLUMNS]] for b in bases
            ),
            dtype=np.float64,
        )
        proba /= proba.sum(axis=1, keepdims=True)
    result = pl.DataFrame(
        {
            "timestamp": pl.Series(stack.view.timestamps).cast(pl.Datetime("ns", "UTC")),
            **{c: proba[:, j] for j, c in enumerate(PROBA_COLUMNS)},
            "position": positions_from_probabilities(proba, "argmax"),
        }
    )
    return result, {"decisions": len(clock), "kept": kept, "coverage": stack.report}


def _own_features_needed(
    bases: dict[str, LoadedBase], spec: dict[str, Any], config: PipelineConfig, instrument: Instrument
) -> dict[str, list[str]]:
    """Per timeframe, the own (non-MTF) features the bundle's models use — all inference computes."""
    needed: dict[str, set[str]] = {}
    for loaded in bases.values():
        if loaded.config.feature_set != "raw_ohlcv":
            needed.setdefault(loaded.config.timeframe, set()).update(
                f for f in loaded.features if "__" not in f
            )
    if spec["meta_features"]:
        tf = config.ladder.base_timeframe
        regime = [s.name for s in feature_specs(tf, instrument) if s.name.startswith("vol_regime")]
        needed.setdefault(tf, set()).update(regime[:1])
    return {tf: sorted(names) for tf, names in needed.items()}


def predict_bundle(bundle_dir: Path, data_path: Path, out: Path) -> dict[str, Any]:
    bundle = load_bundle(bundle_dir)
    bars, report = load_and_validate(Path(data_path), bundle.instrument, bundle.config)
    result, info = predict_bars(bundle, bars.drop("row"))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    result.write_parquet(out) if out.suffix != ".csv" else result.write_csv(out)
    return {
        "bundle": str(bundle.directory),
        "data": str(data_path),
        "out": str(out),
        "rows_in": report.rows_in,
        "predicted": result.height,
        **info,
    }
