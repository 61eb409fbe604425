"""The ensemble bundle: a typed, versioned ``ensemble.json`` and the directory it describes.

This module is the only writer and reader of bundles. A bundle (``RUN/ensembles/<id>/``) holds
every retrained base with its routing, the kept combiner (the guard's choice: the meta-learner,
the OOF-weighted average or the best base — each a fitted model with ``predict_proba`` over the
stacked matrix), the stack's layout (priors, coverage policy, meta-features), the fallback where a
base cannot predict yet (``serving.fallback``), the fitted feature state, the pipeline config and
instrument of the run, and the conventions its bars were read with (``DataConventions``: symbol,
layout, stamp, timezone). Every file is in the bundle's hash manifest (``files.sha256.json``) and is
checked before anything is loaded; paths inside it are relative and must stay inside it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from mlfactory.artifacts import atomic_write_json, resolve_inside, verify_file_manifest
from mlfactory.config import PipelineConfig
from mlfactory.data.instruments import Instrument
from mlfactory.errors import ArtifactError, validation_summary
from mlfactory.models.base import Model
from mlfactory.models.config import ModelConfig, model_config_from_mapping

BUNDLE_FILE = "ensemble.json"
BUNDLE_FORMAT = "mlfactory-ensemble/3"
FITTED_STATE_FILE = "features_fitted_state.json"
# what a bundle of an older format lacks (every older format is refused; retraining writes the current one)
OLDER_FORMATS = {
    "mlfactory-ensemble/2": "it does not record the data conventions (symbol, layout, stamp, timezone) "
    "its bars were read with",
}
GuardCandidate = Literal["meta", "weighted_average", "best_base"]
GUARD_CANDIDATES: tuple[GuardCandidate, ...] = ("meta", "weighted_average", "best_base")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BaseEntry(_Strict):
    model: str  # registry name
    directory: str  # relative to the bundle
    routing: str  # relative path of routing.json


class CombinerEntry(_Strict):
    candidate: GuardCandidate
    model: str  # registry name of the fitted combiner (a meta-learner, or ``voting``)
    directory: str


class GuardRecord(_Strict):
    metric: str
    scores: dict[str, float | None]
    kept: GuardCandidate
    forced: bool  # the kept candidate was chosen by the user, not by the scores


class DataConventions(_Strict):
    """How the training bars were read, resolved (never ``auto`` or null): new bars are read the same way.

    ``format`` is the layout actually read (detected or given), ``stamp`` whether its timestamps were
    taken as bar opens or closes, ``timezone`` the zone applied to naive timestamps.
    """

    symbol: str
    format: Literal["ninjatrader", "tradestation", "sierra", "databento", "generic"]
    stamp: Literal["open", "close"]
    timezone: str


FallbackRule = Literal["available", "none"]
FALLBACK_RULES: tuple[FallbackRule, ...] = ("available", "none")


class FallbackRecord(_Strict):
    """What predicts at a decision where some base the kept combiner reads has no prediction yet
    (``serving.fallback``; a ``drop`` bundle only — an ``impute`` bundle's combiner reads the masks).

    ``available``: the inverse-OOF-loss weighted average over the bases that predicted (a meta-learner
    or the weighted average kept), or the best-ranked base that predicted (the best base kept);
    ``none``: no prediction there. The weights and losses are the training OOF ones, recorded here.
    """

    rule: FallbackRule
    oof_log_loss: dict[str, float]  # each base's sample-weighted log loss on the OOF stack's rows
    weights: dict[str, float]  # inverse-OOF-loss weights, summing to 1 (the weighted_average candidate's)


class BundleSpec(_Strict):
    format: Literal["mlfactory-ensemble/3"] = BUNDLE_FORMAT
    ensemble_id: str
    horizon: int
    decision_timeframe: str
    bases: dict[str, BaseEntry]
    meta_learner: str
    combiner: CombinerEntry
    guard: GuardRecord
    stack_columns: list[str]
    priors: list[float]
    coverage_policy: Literal["drop", "impute"]
    fallback: FallbackRecord
    meta_features: bool
    pipeline_config: dict[str, Any]
    instrument: dict[str, Any]
    conventions: DataConventions


@dataclass(frozen=True)
class LoadedBase:
    config: ModelConfig
    model: Model
    features: list[str]


@dataclass(frozen=True)
class Bundle:
    """A loaded bundle: everything inference needs, read once."""

    directory: Path
    spec: BundleSpec
    config: PipelineConfig
    instrument: Instrument
    fitted: dict[str, Any]
    bases: dict[str, LoadedBase]
    combiner: Model


def run_conventions(manifest: dict[str, Any], source: Path) -> DataConventions:
    """The data conventions a run manifest recorded (``pipeline run`` writes them), for its bundles."""
    try:
        return DataConventions.model_validate(manifest["conventions"])
    except KeyError:
        raise ArtifactError(
            f"{source}: the run does not record the conventions its bars were read with (it predates them); "
            "rerun `mlfactory pipeline run` on this run directory, then train the ensemble again"
        ) from None
    except ValidationError as exc:
        raise ArtifactError(
            f"{source}: invalid data conventions ({validation_summary(exc)}); rerun `mlfactory pipeline run "
            "--force` on this run directory"
        ) from None


def write_bundle_spec(directory: Path, spec: BundleSpec) -> Path:
    return atomic_write_json(Path(directory) / BUNDLE_FILE, spec.model_dump(mode="json"), sort_keys=True)


def read_bundle_spec(directory: Path) -> BundleSpec:
    path = Path(directory) / BUNDLE_FILE
    obj = _read_json(path)
    if isinstance(obj, dict) and obj.get("format") != BUNDLE_FORMAT:
        why = OLDER_FORMATS.get(str(obj.get("format")))
        raise ArtifactError(
            f"{path}: bundle format {obj.get('format')!r} is not {BUNDLE_FORMAT!r}"
            + (f" ({why})" if why else "")
            + "; retrain the ensemble with `mlfactory train-ensemble`"
        )
    try:
        return BundleSpec.model_validate(obj)
    except ValidationError as exc:
        raise ArtifactError(
            f"{path}: invalid bundle ({validation_summary(exc)}); retrain the ensemble with `mlfactory train-ensemble`"
        ) from None


def load_bundle(directory: Path) -> Bundle:
    from mlfactory.models.registry import get_model_class

    directory = Path(directory)
    verify_file_manifest(directory)  # every file, JSON included, before anything is read
    spec = read_bundle_spec(directory)
    bases = {name: _load_base(directory, entry) for name, entry in spec.bases.items()}
    combiner = get_model_class(spec.combiner.model).load(resolve_inside(directory, spec.combiner.directory))
    return Bundle(
        directory,
        spec,
        PipelineConfig.model_validate(spec.pipeline_config),
        Instrument.model_validate(spec.instrument),
        _read_json(resolve_inside(directory, FITTED_STATE_FILE)),
        bases,
        combiner,
    )


def _load_base(directory: Path, entry: BaseEntry) -> LoadedBase:
    from mlfactory.models.registry import get_model_class

    routing_path = resolve_inside(directory, entry.routing)
    routing = _read_json(routing_path)
    cls = get_model_class(entry.model)
    try:
        cfg = model_config_from_mapping(
            cls,
            {k: routing[k] for k in ("timeframe", "mtf_strategy", "mtf_timeframes", "feature_set", "params")},
            source=str(routing_path),
        )
        features = [str(f) for f in routing["features"]]
    except (KeyError, TypeError) as exc:
        raise ArtifactError(f"{routing_path}: incomplete routing ({exc}); retrain the ensemble") from None
    return LoadedBase(cfg, cls.load(resolve_inside(directory, entry.directory)), features)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ArtifactError(
            f"{path}: missing from the bundle; train the ensemble again with `mlfactory train-ensemble`"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(
            f"{path}: not valid JSON ({exc}); train the ensemble again with `mlfactory train-ensemble`"
        ) from None
