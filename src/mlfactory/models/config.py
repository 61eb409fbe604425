"""Per-model YAML configs (``configs/models/<name>.yaml``), ``--param`` overrides and search spaces.

Defaults live in the code, once: the model's ``Params`` class and its routing class attributes.
The YAML file is optional and holds overrides only (a test refuses a file that repeats a default).
A model file holds hyper-parameters under ``params:``, the routing keys ``timeframe``,
``mtf_strategy``, ``mtf_timeframes`` and ``feature_set`` (absent keys take the model class's
declared defaults) and optionally ``search_space:``, whose entries replace or add tuning dimensions
of the model's in-code ``search_space`` by parameter name::

    timeframe: 15m
    mtf_strategy: mtf_indicators
    mtf_timeframes: [30m, 1h, 4h]
    feature_set: engineered_mtf
    params:
      n_estimators: 500
    search_space:
      learning_rate: {type: float, low: 0.01, high: 0.2, log: true}

Unknown keys and bad values raise ``ConfigError`` naming the file and the key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mlfactory.errors import ConfigError
from mlfactory.models.base import Model, ModelParams, MtfStrategy
from mlfactory.paths import config_dir
from mlfactory.timeframes import check_timeframe, validate_mtf_timeframes

# ---------------------------------------------------------------------------------------------- search dims


class FloatDim(BaseModel):
    """A float hyper-parameter sampled in ``[low, high]`` (log-uniformly when ``log``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["float"] = "float"
    low: float
    high: float
    log: bool = False

    @model_validator(mode="after")
    def _check(self) -> FloatDim:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError(f"log scale needs low > 0, got {self.low}")
        return self


class IntDim(BaseModel):
    """An integer hyper-parameter sampled in ``[low, high]`` with ``step``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["int"] = "int"
    low: int
    high: int
    step: int = Field(1, ge=1)
    log: bool = False

    @model_validator(mode="after")
    def _check(self) -> IntDim:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.log and (self.low <= 0 or self.step != 1):
            raise ValueError("log scale needs low > 0 and step 1")
        return self


class CategoricalDim(BaseModel):
    """A hyper-parameter chosen among ``choices`` (scalars: numbers, strings, booleans, null)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["categorical"] = "categorical"
    choices: tuple[float | int | str | bool | None, ...] = Field(min_length=1)


_DIM_TAGS = ("float", "int", "categorical")
SearchDim = Annotated[FloatDim | IntDim | CategoricalDim, Field(discriminator="type")]


def float_dim(low: float, high: float, log: bool = False) -> FloatDim:
    return FloatDim(low=low, high=high, log=log)


def int_dim(low: int, high: int, step: int = 1, log: bool = False) -> IntDim:
    return IntDim(low=low, high=high, step=step, log=log)


def categorical_dim(*choices: float | int | str | bool | None) -> CategoricalDim:
    return CategoricalDim(choices=choices)


def dim_bounds(dim: FloatDim | IntDim | CategoricalDim) -> tuple[Any, ...]:
    """Values that must each pass the model's Params schema for ``dim`` to be usable."""
    return dim.choices if isinstance(dim, CategoricalDim) else (dim.low, dim.high)


# ---------------------------------------------------------------------------------------------- the file


class _ConfigFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    timeframe: str | None = Field(None, description="primary timeframe; null = the model's default")
    mtf_strategy: MtfStrategy | None = Field(
        None, description="single_tf | mtf_indicators | mtf_ingestion; null = the model's default"
    )
    mtf_timeframes: list[str] | None = Field(
        None, description="coarser timeframes for the MTF strategy; null = the model's default"
    )
    feature_set: str | None = Field(None, min_length=1, description="null = the model's default")
    params: dict[str, Any] = Field(
        default_factory=dict, description="hyper-parameters that differ from the model's Params defaults"
    )
    search_space: dict[str, SearchDim] = Field(
        default_factory=dict, description="Optuna dimensions replacing or adding to the in-code space"
    )


@dataclass(frozen=True)
class ModelConfig:
    """A validated model config: routing keys, hyper-parameters and the merged search space."""

    model: str
    timeframe: str
    mtf_strategy: MtfStrategy
    mtf_timeframes: tuple[str, ...]
    feature_set: str
    params: ModelParams
    search_space: Mapping[str, FloatDim | IntDim | CategoricalDim] = field(default_factory=dict)
    source: str = "<defaults>"

    @property
    def model_cls(self) -> type[Model]:
        from mlfactory.models.registry import get_model_class

        return get_model_class(self.model)


def model_config_path(name: str) -> Path:
    """``configs/models/<name>.yaml`` under the config directory."""
    return config_dir() / "models" / f"{name}.yaml"


def load_model_config(name: str, path: Path | None = None) -> ModelConfig:
    """Read and validate ``configs/models/<name>.yaml`` (or ``path``) for the registered model ``name``."""
    from mlfactory.models.registry import get_model_class

    cls = get_model_class(name)
    if path is None:
        path = model_config_path(name)
        if not path.is_file():
            return default_model_config(cls)  # the file is optional: it holds overrides only
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: model config not found; give an existing YAML file or none at all")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML text ({exc})") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the model config: {exc}") from exc
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys, got {type(raw).__name__}")
    return model_config_from_mapping(cls, raw, source=str(path))


def model_config_from_mapping(cls: type[Model], raw: Mapping[str, Any], source: str) -> ModelConfig:
    """Validate an already-parsed config mapping for model class ``cls``; errors name ``source`` and the key."""
    try:
        parsed = _ConfigFile.model_validate(dict(raw))
    except ValidationError as exc:
        raise ConfigError(f"{source}: {_describe(exc)}") from exc
    timeframe = parsed.timeframe if parsed.timeframe is not None else cls.default_timeframe
    strategy = parsed.mtf_strategy if parsed.mtf_strategy is not None else cls.default_mtf_strategy
    mtf = parsed.mtf_timeframes if parsed.mtf_timeframes is not None else cls.default_mtf_timeframes
    routing = _check_routing(source, timeframe, strategy, mtf)
    params = validate_params(cls, parsed.params, source, prefix="params.")
    space = dict(getattr(cls, "search_space", {}))
    space.update(parsed.search_space)
    _check_search_space(cls, space, params, f"{source}: search_space")
    feature_set = parsed.feature_set if parsed.feature_set is not None else cls.default_feature_set
    return ModelConfig(cls.name, *routing, feature_set, params, space, source)


def default_model_config(cls: type[Model]) -> ModelConfig:
    """The config a model has with no YAML at all: its class defaults."""
    return model_config_from_mapping(cls, {}, source=f"defaults of {cls.name!r}")


def apply_overrides(
    config: ModelConfig,
    params: Iterable[str] = (),
    *,
    timeframe: str | None = None,
    feature_set: str | None = None,
    mtf_timeframes: Iterable[str] | None = None,
) -> ModelConfig:
    """A copy of ``config`` with ``--param KEY=VALUE`` overrides and routing flags applied and re-validated."""
    cls = config.model_cls
    values = config.params.model_dump()
    values.update(parse_param_overrides(cls, params))
    new_params = validate_params(cls, values, "--param")
    tf = timeframe if timeframe is not None else config.timeframe
    mtf = tuple(mtf_timeframes) if mtf_timeframes is not None else config.mtf_timeframes
    routing = _check_routing("overrides", tf, config.mtf_strategy, mtf)
    if feature_set is not None and not feature_set:
        raise ConfigError("--feature-set: empty name; give a feature set name such as 'engineered'")
    fs = feature_set if feature_set is not None else config.feature_set
    return replace(config, timeframe=routing[0], mtf_timeframes=routing[2], feature_set=fs, params=new_params)


def parse_param_overrides(
    cls: type[Model], overrides: Iterable[str], source: str = "--param"
) -> dict[str, Any]:
    """Parse ``["n_estimators=200", "learning_rate=0.1"]`` into values typed by ``cls.Params``.

    Each value is read as a YAML scalar (``200`` → int, ``null`` → None) and the full override set
    is validated against the schema, so a bad key or value raises ``ConfigError`` naming it.
    """
    fields = cls.Params.model_fields
    out: dict[str, Any] = {}
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"{source} {item!r}: expected KEY=VALUE, e.g. {source} n_estimators=200")
        if key not in fields:
            raise ConfigError(
                f"{source} {key}: unknown parameter for model {cls.name!r}; known: {', '.join(sorted(fields))}"
            )
        try:
            out[key] = yaml.safe_load(text) if text.strip() else text
        except yaml.YAMLError:
            out[key] = text
    typed = validate_params(cls, out, source)  # the overrides alone; other fields take their defaults
    return {k: getattr(typed, k) for k in out}


def validate_params(
    cls: type[Model], values: Mapping[str, Any], source: str, prefix: str = ""
) -> ModelParams:
    """``cls.Params`` built from ``values``; a failure names ``source`` and each bad key."""
    try:
        return cls.Params.model_validate(dict(values))
    except ValidationError as exc:
        raise ConfigError(f"{source}: {_describe(exc, prefix)} (model {cls.name!r})") from exc


def _check_routing(
    source: str, timeframe: str, strategy: MtfStrategy, mtf: Iterable[str]
) -> tuple[str, MtfStrategy, tuple[str, ...]]:
    try:
        check_timeframe(timeframe, "timeframe")
        mtf_t = validate_mtf_timeframes(timeframe, mtf, "mtf_timeframes")
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from exc
    if strategy == MtfStrategy.SINGLE_TF and mtf_t:
        raise ConfigError(
            f"{source}: mtf_timeframes: {list(mtf_t)} given with mtf_strategy single_tf; "
            "remove the list or choose mtf_indicators / mtf_ingestion"
        )
    if strategy != MtfStrategy.SINGLE_TF and not mtf_t:
        raise ConfigError(
            f"{source}: mtf_timeframes: empty with mtf_strategy {strategy.value}; list coarser timeframes "
            "or set mtf_strategy: single_tf"
        )
    return timeframe, strategy, mtf_t


def _check_search_space(cls: type[Model], space: Mapping[str, Any], params: ModelParams, source: str) -> None:
    fields = cls.Params.model_fields
    base = params.model_dump()
    for key, dim in space.items():
        if key not in fields:
            raise ConfigError(
                f"{source}.{key}: not a parameter of model {cls.name!r}; known: {', '.join(sorted(fields))}"
            )
        for value in dim_bounds(dim):
            try:
                cls.Params.model_validate({**base, key: value})
            except ValidationError as exc:
                raise ConfigError(
                    f"{source}.{key}: value {value!r} is invalid for the parameter: {_describe(exc)}"
                ) from exc


def _describe(exc: ValidationError, prefix: str = "") -> str:
    parts = []
    for e in exc.errors():
        keys = [str(p) for p in e["loc"] if not str(p).startswith("function-after")]
        if keys[:1] == ["search_space"] and len(keys) > 2 and keys[2] in _DIM_TAGS:
            del keys[2]  # the discriminated union's tag, not a key the user wrote
        loc = ".".join(keys) or "<root>"
        msg = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
        parts.append(f"{prefix}{loc}: {msg}")
    return "; ".join(parts)
