"""The model registry, filled by the ``@register`` decorator; docs and tests count from here."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from mlfactory.errors import ConfigError
from mlfactory.models.base import Model

_REGISTRY: dict[str, type[Model]] = {}
_LOADED = False


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

    for sub in ("tabular", "sequence", "ensemble"):
        try:
            subpkg = importlib.import_module(f"{pkg.__name__}.{sub}")
        except ModuleNotFoundError:
            continue
        for info in pkgutil.iter_modules(subpkg.__path__):
            if not info.name.startswith("_"):
                importlib.import_module(f"{subpkg.__name__}.{info.name}")
    _LOADED = True


def all_models() -> dict[str, type[Model]]:
    _load_all()
    return dict(sorted(_REGISTRY.items()))


def get_model_class(name: str) -> type[Model]:
    models = all_models()
    if name not in models:
        raise ConfigError(
            f"unknown model {name!r}; registered models: {', '.join(models)} (see `mlfactory models`)"
        )
    return models[name]


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
