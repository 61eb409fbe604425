"""The model registry, filled by the ``@register`` decorator; docs and tests count from here.

Listing models must not load their frameworks (torch, xgboost, catboost, lightgbm, sklearn), so the
metadata the CLI and the docs show lives in :data:`MODELS`, a static table that a test keeps equal
to the classes' declared attributes. Looking up a class imports only that model's module.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING, Any, NamedTuple

from mlfactory.errors import ConfigError

if TYPE_CHECKING:
    from mlfactory.models.base import Model

_REGISTRY: dict[str, type[Model]] = {}
_LOADED = False
_PACKAGES = ("tabular", "sequence", "ensemble")


class ModelInfo(NamedTuple):
    """What a model declares, readable without importing it (kept equal to the class by a test)."""

    name: str
    module: str  # under mlfactory.models
    family: str
    input: str
    timeframe: str
    mtf_strategy: str
    mtf_timeframes: tuple[str, ...]
    feature_set: str

    def describe(self) -> dict[str, Any]:
        row = self._asdict()
        del row["module"]
        row["mtf_timeframes"] = list(self.mtf_timeframes)
        return row


MODELS: dict[str, ModelInfo] = {
    "blending": ModelInfo(
        "blending", "ensemble.blending", "ensemble", "tabular_2d", "5m", "single_tf", (), "all"
    ),
    "calibrated_meta": ModelInfo(
        "calibrated_meta", "ensemble.calibrated_meta", "meta", "tabular_2d", "5m", "single_tf", (), "all"
    ),
    "catboost": ModelInfo(
        "catboost",
        "tabular.catboost_model",
        "boosting",
        "tabular_2d",
        "15m",
        "mtf_indicators",
        ("30m", "1h", "4h"),
        "engineered_mtf",
    ),
    "gru": ModelInfo("gru", "sequence.gru", "neural", "sequence_3d", "5m", "single_tf", (), "engineered"),
    "inceptiontime": ModelInfo(
        "inceptiontime", "sequence.inceptiontime", "cnn", "sequence_3d", "5m", "single_tf", (), "engineered"
    ),
    "itransformer": ModelInfo(
        "itransformer",
        "sequence.itransformer",
        "transformer",
        "sequence_3d",
        "5m",
        "single_tf",
        (),
        "raw_ohlcv",
    ),
    "lightgbm": ModelInfo(
        "lightgbm",
        "tabular.lightgbm_model",
        "boosting",
        "tabular_2d",
        "15m",
        "mtf_indicators",
        ("30m", "1h", "4h"),
        "engineered_mtf",
    ),
    "logistic": ModelInfo(
        "logistic", "tabular.logistic", "classical", "tabular_2d", "1h", "single_tf", (), "engineered"
    ),
    "lstm": ModelInfo("lstm", "sequence.lstm", "neural", "sequence_3d", "5m", "single_tf", (), "engineered"),
    "mlp_meta": ModelInfo(
        "mlp_meta", "ensemble.mlp_meta", "meta", "tabular_2d", "5m", "single_tf", (), "all"
    ),
    "nbeats": ModelInfo(
        "nbeats", "sequence.nbeats", "mlp", "sequence_3d", "5m", "single_tf", (), "engineered"
    ),
    "patchtst": ModelInfo(
        "patchtst",
        "sequence.patchtst",
        "transformer",
        "multistream_4d",
        "1m",
        "mtf_ingestion",
        ("5m", "15m"),
        "raw_ohlcv",
    ),
    "random_forest": ModelInfo(
        "random_forest",
        "tabular.random_forest",
        "classical",
        "tabular_2d",
        "15m",
        "single_tf",
        (),
        "engineered",
    ),
    "resnet1d": ModelInfo(
        "resnet1d", "sequence.resnet1d", "cnn", "sequence_3d", "5m", "single_tf", (), "engineered"
    ),
    "ridge": ModelInfo(
        "ridge", "tabular.ridge", "classical", "tabular_2d", "1h", "single_tf", (), "engineered"
    ),
    "ridge_meta": ModelInfo(
        "ridge_meta", "ensemble.ridge_meta", "meta", "tabular_2d", "5m", "single_tf", (), "all"
    ),
    "stacking": ModelInfo(
        "stacking", "ensemble.stacking", "ensemble", "tabular_2d", "5m", "single_tf", (), "all"
    ),
    "svm": ModelInfo("svm", "tabular.svm", "classical", "tabular_2d", "15m", "single_tf", (), "engineered"),
    "tcn": ModelInfo("tcn", "sequence.tcn", "neural", "sequence_3d", "5m", "single_tf", (), "engineered"),
    "tft": ModelInfo(
        "tft",
        "sequence.tft",
        "transformer",
        "sequence_3d",
        "5m",
        "mtf_indicators",
        ("15m", "1h", "4h"),
        "engineered_mtf",
    ),
    "transformer": ModelInfo(
        "transformer", "sequence.transformer", "neural", "sequence_3d", "5m", "single_tf", (), "engineered"
    ),
    "voting": ModelInfo("voting", "ensemble.voting", "ensemble", "tabular_2d", "5m", "single_tf", (), "all"),
    "xgboost": ModelInfo(
        "xgboost",
        "tabular.xgboost_model",
        "boosting",
        "tabular_2d",
        "15m",
        "mtf_indicators",
        ("30m", "1h", "4h"),
        "engineered_mtf",
    ),
    "xgboost_meta": ModelInfo(
        "xgboost_meta", "ensemble.xgboost_meta", "meta", "tabular_2d", "5m", "single_tf", (), "all"
    ),
}


def register(cls: type[Model]) -> type[Model]:
    name = cls.name
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise RuntimeError(
            f"model name {name!r} registered twice ({_REGISTRY[name].__module__}, {cls.__module__})"
        )
    _REGISTRY[name] = cls
    return cls


def _load_all() -> None:
    global _LOADED
    if _LOADED:
        return
    import mlfactory.models as pkg

    for sub in _PACKAGES:
        try:
            subpkg = importlib.import_module(f"{pkg.__name__}.{sub}")
        except ModuleNotFoundError:
            continue
        for info in pkgutil.iter_modules(subpkg.__path__):
            if not info.name.startswith("_"):
                importlib.import_module(f"{subpkg.__name__}.{info.name}")
    _LOADED = True


def all_models() -> dict[str, type[Model]]:
    """Every model class (imports every model module and its framework)."""
    _load_all()
    return dict(sorted(_REGISTRY.items()))


def model_names() -> list[str]:
    """Registered model names, without importing any model."""
    return sorted(MODELS)


def model_table() -> list[dict[str, Any]]:
    """``describe`` of every model, read from :data:`MODELS` (no framework is imported)."""
    return [MODELS[n].describe() for n in model_names()]


def get_model_class(name: str) -> type[Model]:
    if name not in _REGISTRY and name in MODELS:
        importlib.import_module(f"mlfactory.models.{MODELS[name].module}")
    if name not in _REGISTRY:
        _load_all()
    if name not in _REGISTRY:
        raise ConfigError(
            f"unknown model {name!r}; registered models: {', '.join(sorted(_REGISTRY))} (see `mlfactory models`)"
        )
    return _REGISTRY[name]


def describe(cls: type[Model]) -> dict[str, Any]:
    return {
        "name": cls.name,
        "family": cls.family.value,
        "input": cls.input_kind.value,
        "timeframe": cls.default_timeframe,
        "mtf_strategy": cls.default_mtf_strategy.value,
        "mtf_timeframes": list(cls.default_mtf_timeframes),
        "feature_set": cls.default_feature_set,
    }
