"""The run manifest (``RUN/manifest.json``) as a pydantic model: read back, it is checked, not trusted.

A manifest with wrong types, a list where an object belongs or a missing key raises an
``ArtifactError`` that names the file, the keys and the command that rebuilds the run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mlfactory.config import SEED_MAX, PipelineConfig
from mlfactory.errors import ArtifactError


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class InputRecord(_Open):
    path: str
    sha256: str
    bytes: int = Field(ge=0)


class StageRecord(_Open):
    key: str | None = None
    seconds: float | None = None


class RunManifest(_Open):
    mlfactory: str = "run"
    created: str | None = None
    symbol: str
    instrument: dict[str, Any]
    input: InputRecord
    config: PipelineConfig
    seed: int = Field(ge=0, le=SEED_MAX)
    versions: dict[str, str] = Field(default_factory=dict)
    stages: dict[str, StageRecord] = Field(default_factory=dict)
    features: dict[str, Any] | None = None
    labels: dict[str, Any] | None = None
    mtf_timeframes: list[str] = Field(default_factory=list)


def check_manifest(raw: Any, path: Path) -> dict[str, Any]:
    """``raw`` (parsed JSON) validated against :class:`RunManifest`; returned unchanged when valid."""
    from mlfactory.jsonio import rebuild_hint

    if not isinstance(raw, dict):
        raise ArtifactError(
            f"{path}: the run manifest must be a JSON object, got {type(raw).__name__}; {rebuild_hint(path)}"
        )
    try:
        RunManifest.model_validate(raw)
    except ValidationError as exc:
        keys = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise ArtifactError(f"{path}: invalid run manifest ({keys}); {rebuild_hint(path)}") from exc
    return raw
