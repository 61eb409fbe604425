"""The one protocol every model follows, and the attributes the registry reads.

A model is configured by plain data (validated hyper-parameters, a seed, ``n_jobs``) and learns
fitted state in attributes with a trailing underscore. ``predict_proba`` always returns an
``(n, 3)`` float array whose columns are the classes ``CLASSES = (-1, 0, 1)`` in that order
(short, neutral, long), rows summing to 1, even when a class was absent from training.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel as PydanticModel
from pydantic import ConfigDict, ValidationError

from mlfactory.adapters.views import ModelInput
from mlfactory.errors import ConfigError, DataError

CLASSES: tuple[int, int, int] = (-1, 0, 1)
PARAMS_FILE = "params.json"
META_FILE = "meta.json"
PROBA_COLUMNS: tuple[str, str, str] = ("p_short", "p_neutral", "p_long")
CLASS_NAMES: tuple[str, str, str] = ("short", "neutral", "long")  # CLASSES by name, PROBA_COLUMNS order


class Family(StrEnum):
    BOOSTING = "boosting"
    CLASSICAL = "classical"
    NEURAL = "neural"
    CNN = "cnn"
    TRANSFORMER = "transformer"
    MLP = "mlp"
    ENSEMBLE = "ensemble"
    META = "meta"


class InputKind(StrEnum):
    TABULAR = "tabular_2d"
    SEQUENCE = "sequence_3d"
    MULTISTREAM = "multistream_4d"


class MtfStrategy(StrEnum):
    SINGLE_TF = "single_tf"
    MTF_INDICATORS = "mtf_indicators"
    MTF_INGESTION = "mtf_ingestion"


class ModelParams(PydanticModel):
    """Base of every model's hyper-parameter schema: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


@dataclass(frozen=True)
class Dataset:
    """What ``fit`` receives: a view (2D/3D/4D), labels in {-1, 0, 1} and optional sample weights."""

    x: ModelInput
    y: np.ndarray  # (n,) int8
    sample_weight: np.ndarray | None = None

    def __post_init__(self) -> None:
        if len(self.y) != len(self.x):
            raise DataError(f"Dataset: {len(self.y)} labels for {len(self.x)} rows")
        bad = ~np.isin(self.y, CLASSES)
        if bad.any():
            raise DataError(
                f"Dataset: labels must be -1, 0 or 1; found {np.unique(self.y[bad])[:5].tolist()}"
            )
        if self.sample_weight is not None and len(self.sample_weight) != len(self.y):
            raise DataError(f"Dataset: {len(self.sample_weight)} sample weights for {len(self.y)} rows")

    def __len__(self) -> int:
        return len(self.y)

    @property
    def timestamps(self) -> np.ndarray:
        return self.x.timestamps

    def subset(self, idx: np.ndarray) -> Dataset:
        w = None if self.sample_weight is None else self.sample_weight[idx]
        return Dataset(self.x.subset(idx), self.y[idx], w)

    def select_columns(self, cols: np.ndarray) -> Dataset:
        return Dataset(self.x.select_columns(cols), self.y, self.sample_weight)


class Model(ABC):
    """Base class of every registered model."""

    name: ClassVar[str]
    family: ClassVar[Family]
    input_kind: ClassVar[InputKind]
    default_timeframe: ClassVar[str] = "5m"
    default_mtf_strategy: ClassVar[MtfStrategy] = MtfStrategy.SINGLE_TF
    default_mtf_timeframes: ClassVar[tuple[str, ...]] = ()
    default_feature_set: ClassVar[str] = "all"
    Params: ClassVar[type[ModelParams]] = ModelParams

    def __init__(
        self, params: dict[str, Any] | ModelParams | None = None, *, seed: int = 0, n_jobs: int = 1
    ) -> None:
        self.params = params if isinstance(params, ModelParams) else make_params(type(self), params or {})
        self.seed = int(seed)
        self.n_jobs = int(n_jobs)

    @abstractmethod
    def fit(self, train: Dataset, val: Dataset | None = None) -> Model:
        """Fit on ``train``; ``val`` (if given) is only for early stopping/calibration."""

    @abstractmethod
    def predict_proba(self, x: ModelInput) -> np.ndarray:
        """``(n, 3)`` probabilities for classes (-1, 0, 1)."""

    @abstractmethod
    def save(self, directory: Path, *, generation: str | None = None) -> None:
        """Write the fitted model to ``directory`` (whole, atomically) in safe formats plus a hash manifest
        that lists every file and the run ``generation`` the model was built from."""

    @classmethod
    @abstractmethod
    def load(cls, directory: Path) -> Model:
        """Rebuild a fitted model from ``directory``, verifying file hashes."""

    def get_params(self) -> dict[str, Any]:
        return self.params.model_dump()

    def check_input(self, x: ModelInput) -> None:
        """Raise if ``x`` has the wrong dimensionality for this model's input kind."""
        expected = {InputKind.TABULAR: 2, InputKind.SEQUENCE: 3, InputKind.MULTISTREAM: 4}[self.input_kind]
        if x.ndim != expected:
            raise DataError(f"model {self.name!r} takes {self.input_kind.value} input; got a {x.ndim}D view")


def check_feature_names(
    model: Model, expected: tuple[str, ...], x: ModelInput, role: str = "predict"
) -> None:
    """Refuse a view whose feature names or their order differ from those the model was fitted on."""
    got = tuple(x.feature_names)
    if got == tuple(expected):
        return
    if len(got) != len(expected):
        detail = f"got {len(got)} features, fitted on {len(expected)} features"
    elif set(got) == set(expected):
        i = next(i for i, (a, b) in enumerate(zip(got, expected, strict=True)) if a != b)
        detail = f"same features in another order (column {i} is {got[i]!r}, fitted {expected[i]!r})"
    else:
        i = next(i for i, (a, b) in enumerate(zip(got, expected, strict=True)) if a != b)
        detail = f"column {i} is {got[i]!r}, fitted {expected[i]!r}"
    raise DataError(
        f"model {model.name!r}: {role} features differ from the fitted features ({detail}); build the view "
        "with the model's feature list, in the same order"
    )


def make_params(cls: type[Model], values: dict[str, Any], source: str = "parameters") -> ModelParams:
    """Validate ``values`` against ``cls.Params``; errors name the source and key."""
    try:
        return cls.Params.model_validate(values)
    except ValidationError as exc:
        msgs = []
        for e in exc.errors():
            key = ".".join(str(p) for p in e["loc"]) or "<root>"
            msgs.append(f"{key}: {e['msg']}")
        raise ConfigError(f"{source} for model {cls.name!r}: " + "; ".join(msgs)) from exc


def normalise_proba(p: np.ndarray, classes_seen: np.ndarray | None = None) -> np.ndarray:
    """Map a library's probability columns onto (-1, 0, 1), filling absent classes with 0, rows sum to 1."""
    p = np.asarray(p, dtype=np.float64)
    if classes_seen is not None:
        out = np.zeros((p.shape[0], 3))
        for j, c in enumerate(np.asarray(classes_seen).tolist()):
            out[:, CLASSES.index(int(c))] = p[:, j]
        p = out
    if p.ndim != 2 or p.shape[1] != 3:
        raise DataError(f"probabilities must have shape (n, 3), got {p.shape}")
    p = np.clip(p, 0.0, None)
    s = p.sum(axis=1, keepdims=True)
    s[s == 0] = 1.0
    return p / s


def restore_model(cls: type[Model], directory: Path) -> tuple[Model, dict[str, Any]]:
    """Verify a saved model directory's hash manifest and rebuild ``cls`` from its params and meta.

    Returns the unfitted instance (params, seed, n_jobs restored) and the meta dict (with the
    manifest's ``generation``), from which the caller restores its fitted state. Raises
    ``ArtifactError`` if a file changed, is missing or unlisted, or the directory holds another model.
    """
    import json

    from mlfactory.artifacts import verify_file_manifest
    from mlfactory.errors import ArtifactError

    directory = Path(directory)
    record = verify_file_manifest(directory)
    meta = json.loads((directory / META_FILE).read_text())
    meta["generation"] = record.get("generation")
    if meta.get("model") != cls.name:
        raise ArtifactError(f"{directory}: holds model {meta.get('model')!r}, not {cls.name!r}")
    params = make_params(cls, json.loads((directory / PARAMS_FILE).read_text()), str(directory / PARAMS_FILE))
    return cls(params, seed=meta["seed"], n_jobs=meta["n_jobs"]), meta
