"""The pipeline configuration: plain data, validated by pydantic, read from YAML.

Unknown keys and bad values are errors naming the file and the dotted key. Sections are added as
stages are added; every section has defaults, so an empty file is a valid config.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mlfactory.data.policies import ValidationPolicies
from mlfactory.errors import ConfigError
from mlfactory.timeframes import (
    DEFAULT_BASE_TIMEFRAME,
    LADDER,
    check_timeframe,
    default_mtf_timeframes,
    validate_mtf_timeframes,
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataConfig(_Section):
    timezone: str | None = Field(
        default=None,
        description="timezone of naive input timestamps; null = the instrument's exchange timezone",
    )
    stamp: Literal["open", "close"] = "close"
    validation: ValidationPolicies = Field(default_factory=ValidationPolicies)


class LadderConfig(_Section):
    base_timeframe: str = DEFAULT_BASE_TIMEFRAME
    timeframes: tuple[str, ...] = LADDER
    mtf_timeframes: tuple[str, ...] | None = Field(
        default=None, description="null = every ladder timeframe strictly coarser than the base"
    )
    partial_bars: Literal["drop", "flag"] = "drop"

    @model_validator(mode="after")
    def _check(self) -> LadderConfig:
        try:
            check_timeframe(self.base_timeframe, "ladder.base_timeframe")
            for tf in self.timeframes:
                check_timeframe(tf, "ladder.timeframes")
            if self.base_timeframe != "1m" and self.base_timeframe not in self.timeframes:
                raise ConfigError(
                    f"ladder.base_timeframe {self.base_timeframe!r} is not in ladder.timeframes"
                )
            if self.mtf_timeframes is not None:
                validate_mtf_timeframes(self.base_timeframe, self.mtf_timeframes, "ladder.mtf_timeframes")
                missing = [tf for tf in self.mtf_timeframes if tf not in self.timeframes]
                if missing:
                    raise ConfigError(f"ladder.mtf_timeframes {missing} are not in ladder.timeframes")
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return self

    @property
    def resolved_mtf_timeframes(self) -> tuple[str, ...]:
        if self.mtf_timeframes is not None:
            return self.mtf_timeframes
        return tuple(tf for tf in default_mtf_timeframes(self.base_timeframe) if tf in self.timeframes)


class PipelineConfig(_Section):
    seed: int = 42
    data: DataConfig = Field(default_factory=DataConfig)
    ladder: LadderConfig = Field(default_factory=LadderConfig)


def _format(source: str, exc: ValidationError) -> str:
    msgs = []
    for e in exc.errors():
        key = ".".join(str(p) for p in e["loc"]) or "<root>"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see configs/pipeline.yaml for the valid keys)"
        msgs.append(f"{key}: {msg}")
    return f"{source}: invalid pipeline config: " + "; ".join(msgs)


def load_pipeline_config(path: Path | None = None, overrides: dict[str, Any] | None = None) -> PipelineConfig:
    """Read and validate a pipeline config (``None`` = all defaults), then apply nested ``overrides``."""
    raw: dict[str, Any] = {}
    source = "<defaults>"
    if path is not None:
        source = str(path)
        try:
            raw = yaml.safe_load(Path(path).read_text()) or {}
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the config file: {exc}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: the config must be a mapping of sections (data, ladder, ...)")
    if overrides:
        raw = _deep_merge(raw, overrides)
    try:
        return PipelineConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format(source, exc)) from exc


def _deep_merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out
