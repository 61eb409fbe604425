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
from mlfactory.features.store import build_feature_frame
from mlfactory.models.base import PROBA_COLUMNS
from mlfactory.models.config import model_config_from_mapping
from mlfactory.models.registry import get_model_class
from mlfactory.pipeline import load_and_validate
from mlfactory.training.model_data import build_model_data
from mlfactory.training.stacking import meta_feature_frame, stack_predictions

BUNDLE_FORMAT = "mlfactory-ensemble/1"


class InferenceData:
    """The run-data interface ``build_model_data`` reads, built in memory from new bars."""

    def __init__(
        self, bars_1m: pl.DataFrame, config: PipelineConfig, instrument: Instrument, fitted: dict[str, Any]
    ):
        self.config = config
        self.instrument = instrument
        self.fitted = fitted
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


def predict_bundle(bundle_dir: Path, data_path: Path, out: Path) -> dict[str, Any]:
    bundle_dir = Path(bundle_dir)
    spec = _read_json(bundle_dir / "ensemble.json")
    if spec.get("format") != BUNDLE_FORMAT:
        raise ArtifactError(f"{bundle_dir}: not an mlfactory ensemble bundle (format {spec.get('format')!r})")
    config = PipelineConfig.model_validate(spec["pipeline_config"])
    instrument = Instrument.model_validate(spec["instrument"])
    fitted = _read_json(bundle_dir / "features_fitted_state.json")
    bars, report = load_and_validate(Path(data_path), instrument, config)
    data = InferenceData(bars.drop("row"), config, instrument, fitted)
    h = int(spec["horizon"])
    preds: dict[str, pl.DataFrame] = {}
    for base, entry in spec["bases"].items():
        routing = _read_json(bundle_dir / entry["routing"])
        cls = get_model_class(routing["model"])
        cfg = model_config_from_mapping(
            cls,
            {k: routing[k] for k in ("timeframe", "mtf_strategy", "mtf_timeframes", "feature_set", "params")},
            source=str(bundle_dir / entry["routing"]),
        )
        md = build_model_data(data, cfg, h)  # type: ignore[arg-type]
        missing = [f for f in routing["features"] if f not in md.feature_names]
        if missing:
            raise ArtifactError(
                f"{base}: features {missing[:5]} the model was trained on cannot be built from the new bars"
            )
        cols = np.array([md.feature_names.index(f) for f in routing["features"]])
        model = cls.load(bundle_dir / entry["directory"])
        proba = model.predict_proba(md.dataset.x.select_columns(cols))
        preds[base] = pl.DataFrame(
            {
                "timestamp": pl.Series(md.timestamps).cast(pl.Datetime("ns", "UTC")),
                **{c: proba[:, j] for j, c in enumerate(PROBA_COLUMNS)},
            }
        )
    clock = data.labels(h)["timestamp"].dt.epoch("ns").to_numpy()
    regime = None
    if spec["meta_features"]:
        frame = data.features(data.decision_timeframe)
        cols = [c for c in frame.columns if c.startswith("vol_regime") and "__" not in c]
        regime = frame.select("timestamp", cols[0]) if cols else None
    feats = meta_feature_frame(clock, regime) if spec["meta_features"] else None
    priors = np.asarray(spec["priors"])
    stack = stack_predictions(
        clock, preds, policy=spec["coverage_policy"], priors=priors, meta_features=feats
    )
    kept = spec["kept"]
    if kept == "meta":
        meta = get_model_class(spec["meta_learner"]["name"]).load(
            bundle_dir / spec["meta_learner"]["directory"]
        )
        proba = meta.predict_proba(stack.view)
    else:
        names = list(stack.view.feature_names)
        bases = [spec["best_base"]] if kept == "best_base" else list(spec["bases"])
        weights = {spec["best_base"]: 1.0} if kept == "best_base" else spec["weights"]
        proba = sum(
            weights[b] * stack.view.x[:, [names.index(f"{b}__{c}") for c in PROBA_COLUMNS]] for b in bases
        )
        proba = np.asarray(proba, dtype=np.float64)
        proba /= proba.sum(axis=1, keepdims=True)
    result = pl.DataFrame(
        {
            "timestamp": pl.Series(stack.view.timestamps).cast(pl.Datetime("ns", "UTC")),
            **{c: proba[:, j] for j, c in enumerate(PROBA_COLUMNS)},
            "position": positions_from_probabilities(proba, "argmax"),
        }
    )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    result.write_parquet(out) if out.suffix != ".csv" else result.write_csv(out)
    return {
        "bundle": str(bundle_dir),
        "data": str(data_path),
        "out": str(out),
        "rows_in": report.rows_in,
        "decisions": len(clock),
        "predicted": result.height,
        "kept": kept,
        "coverage": stack.report,
    }
