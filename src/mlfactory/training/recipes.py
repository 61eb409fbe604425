"""Ensemble recipes: ``configs/ensembles/<name>.yaml``, validated; CLI flags override recipe values."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mlfactory.config import read_yaml
from mlfactory.errors import ConfigError
from mlfactory.paths import config_dir


class Recipe(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    bases: list[str] = Field(min_length=2)
    meta_learner: str
    horizon: int | None = Field(default=None, ge=1)
    coverage: Literal["drop", "impute"] = "drop"
    fallback: Literal["available", "none"] = Field(
        default="available",
        description="a decision where a base cannot predict yet (drop coverage): available | none",
    )
    meta_features: bool = True
    guard: bool = True
    n_splits: int = Field(default=5, ge=2)
    params: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="per-base hyper-parameters: {model: {key: value}}"
    )

    def param_overrides(self) -> list[str]:
        """The recipe's params as ``MODEL.KEY=VALUE`` strings (YAML scalars)."""
        out = []
        for model, values in self.params.items():
            if model not in self.bases and model != self.meta_learner:
                raise ConfigError(
                    f"recipe {self.name!r}: params for {model!r}, which is neither a base nor the meta-learner"
                )
            out += [
                f"{model}.{k}={yaml.safe_dump(v, default_flow_style=True).strip().removesuffix('...').strip()}"
                for k, v in values.items()
            ]
        return out

    def spec(self, horizon: int) -> Any:
        """The recipe's ``EnsembleSpec`` on one horizon."""
        from mlfactory.training.ensemble_fit import EnsembleSpec

        return EnsembleSpec(
            bases=tuple(self.bases), meta_learner=self.meta_learner, horizon=horizon,
            params=tuple(self.param_overrides()), n_splits=self.n_splits, coverage=self.coverage,
            fallback=self.fallback, meta_features=self.meta_features, guard=self.guard, name=self.name,
        )  # fmt: skip


def recipe_path(name_or_path: str) -> Path:
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml"):
        return p
    return config_dir() / "ensembles" / f"{name_or_path}.yaml"


def load_recipe(name_or_path: str) -> Recipe:
    path = recipe_path(name_or_path)
    if not path.is_file():
        shipped = sorted(q.stem for q in (config_dir() / "ensembles").glob("*.yaml"))
        raise ConfigError(
            f"--recipe {name_or_path!r}: {path} not found; shipped recipes: {', '.join(shipped)}"
        )
    try:
        raw = read_yaml(path, "recipe") or {}
        return Recipe.model_validate(raw)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    except ValidationError as exc:
        msgs = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{path}: invalid recipe: {msgs}") from exc
