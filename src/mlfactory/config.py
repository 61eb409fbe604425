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

SEED_MAX = 2**32 - 1  # numpy's seed range is 0 … 2**32 - 1


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RollConfig(_Section):
    rule: Literal["volume", "open-interest", "calendar"] = Field(
        default="volume", description="how a file with a contract column picks each roll day"
    )
    adjust: Literal["back", "ratio", "none"] = "back"
    days_before_expiry: int = Field(
        default=8, ge=0, description="calendar rule: business days before the third Friday"
    )


class DataConfig(_Section):
    timezone: str | None = Field(
        default=None,
        description="timezone of naive input timestamps; null = the instrument's exchange timezone",
    )
    format: Literal["auto", "ninjatrader", "tradestation", "sierra", "databento", "generic"] = Field(
        default="auto",
        description="input layout; auto detects it from the file's name, header and first line",
    )
    stamp: Literal["open", "close"] | None = Field(
        default=None,
        description="whether timestamps mark the bar's open or close; null = the format's convention",
    )
    validation: ValidationPolicies = Field(default_factory=ValidationPolicies)
    rolls: RollConfig = Field(default_factory=RollConfig)


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


class FeaturesConfig(_Section):
    timeframes: tuple[str, ...] = Field(
        default=("5m", "15m", "1h"),
        description="timeframes with a feature file; the base timeframe is always added",
    )
    mtf_features: tuple[str, ...] | None = Field(
        default=None,
        description="indicators joined from coarser timeframes; null = the registry's default subset",
    )
    max_warmup_share: float = Field(
        default=0.10,
        ge=0,
        le=1,
        description="leave out an indicator or MTF timeframe whose warm-up costs more than this share "
        "of the training rows (short histories)",
    )

    @model_validator(mode="after")
    def _check(self) -> FeaturesConfig:
        try:
            for tf in self.timeframes:
                check_timeframe(tf, "features.timeframes")
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return self


class BarrierConfig(_Section):
    mode: Literal["fixed", "optimize"] = Field(
        default="fixed",
        description="fixed k_up/k_down, or optimise them per horizon on training rows (Optuna)",
    )
    k_up: float = Field(default=2.0, gt=0)
    k_down: float = Field(default=2.0, gt=0)
    n_trials: int = Field(default=40, ge=1)
    k_range: tuple[float, float] = (0.25, 6.0)


class LabelsConfig(_Section):
    horizons: tuple[int, ...] = (5, 10, 15, 20)
    atr_window: int = Field(default=14, ge=2, description="ATR window in decision bars (Wilder, TA-Lib)")
    max_gap_minutes: int = Field(
        default=15, ge=1, description="a label window ends at a gap longer than this"
    )
    barriers: BarrierConfig = Field(default_factory=BarrierConfig)
    oldest_weight: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="time decay of sample weights: weight of the oldest training row; null = none",
    )

    @model_validator(mode="after")
    def _check(self) -> LabelsConfig:
        if not self.horizons or len(set(self.horizons)) != len(self.horizons) or min(self.horizons) < 1:
            raise ValueError(
                f"labels.horizons: expected distinct positive integers, got {list(self.horizons)}"
            )
        return self


class SplitsConfig(_Section):
    fractions: tuple[float, float, float] = (0.70, 0.15, 0.15)
    embargo_bars: int | None = Field(
        default=None,
        ge=0,
        description="embargo after each boundary in decision bars; null = the largest horizon",
    )


class PipelineConfig(_Section):
    seed: int = Field(default=42, ge=0, le=SEED_MAX, description="seed of every stochastic step")
    data: DataConfig = Field(default_factory=DataConfig)
    ladder: LadderConfig = Field(default_factory=LadderConfig)
    features: FeaturesConfig = Field(default_factory=FeaturesConfig)
    labels: LabelsConfig = Field(default_factory=LabelsConfig)
    splits: SplitsConfig = Field(default_factory=SplitsConfig)

    @model_validator(mode="after")
    def _check_cross(self) -> PipelineConfig:
        missing = [tf for tf in self.features.timeframes if tf != "1m" and tf not in self.ladder.timeframes]
        if missing:
            raise ValueError(f"features.timeframes {missing} are not in ladder.timeframes")
        return self

    @property
    def feature_timeframes(self) -> tuple[str, ...]:
        from mlfactory.timeframes import sort_timeframes

        return tuple(
            sort_timeframes(list(dict.fromkeys((self.ladder.base_timeframe, *self.features.timeframes))))
        )


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
        raw = read_yaml(Path(path), "pipeline config") or {}
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: the config must be a mapping of sections (data, ladder, ...)")
    if overrides:
        raw = _deep_merge(raw, overrides)
    try:
        return PipelineConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format(source, exc)) from exc


def read_yaml(path: Path, what: str) -> Any:
    """Parse a YAML text file; unreadable, binary or malformed files raise ``ConfigError`` naming it."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except IsADirectoryError as exc:
        raise ConfigError(f"{path}: cannot read the {what}: it is a directory; give a YAML file") from exc
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: cannot read the {what}: no such file; check the path") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: the {what} is not UTF-8 text (a binary file?); give a YAML file") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: the {what} is not valid YAML: {exc}") from exc


def _deep_merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out
