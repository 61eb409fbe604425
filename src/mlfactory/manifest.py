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
    """Every key is typed; :data:`REQUIRED` keys must be present in a finished run's manifest."""

    mlfactory: str = "run"
    created: str | None = None
    symbol: str | None = None
    instrument: dict[str, Any] | None = None
    input: InputRecord | None = None
    config: PipelineConfig | None = None
    seed: int | None = Field(default=None, ge=0, le=SEED_MAX)
    versions: dict[str, str] = Field(default_factory=dict)
    stages: dict[str, StageRecord] = Field(default_factory=dict)
    features: dict[str, Any] | None = None
    labels: dict[str, Any] | None = None
    mtf_timeframes: list[str] = Field(default_factory=list)
    conventions: dict[str, str] | None = None  # symbol, format, stamp, timezone the bars were read with


REQUIRED = ("symbol", "instrument", "input", "config", "seed")


def check_manifest(raw: Any, path: Path, complete: bool = False) -> dict[str, Any]:
    """``raw`` (parsed JSON) validated against :class:`RunManifest`; returned unchanged when valid.

    ``complete`` also requires the keys a finished run has (what commands reading a run need).
    """
    from mlfactory.jsonio import rebuild_hint

    if not isinstance(raw, dict):
        raise ArtifactError(
            f"{path}: the run manifest must be a JSON object, got {type(raw).__name__}; {rebuild_hint(path)}"
        )
    problems = [f"{k}: missing" for k in REQUIRED if complete and raw.get(k) is None]
    try:
        RunManifest.model_validate(raw)
    except ValidationError as exc:
        problems += [f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors()]
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise ArtifactError(
            f"{path}: invalid run manifest ({'; '.join(problems[:5])}{more}); {rebuild_hint(path)}"
        )
    return raw
