"""Drift results as artifacts: what ``mlfactory monitor`` writes and the report's Drift section reads.

Where: ``RUN/monitoring/<bundle-id>/<stamp>.json`` for a bundle at ``RUN/ensembles/<bundle-id>``
(``--out DIR`` writes ``DIR/<stamp>.json`` instead). ``<stamp>`` is the end of the recent
window (the last monitored decision, ``YYYYmmddTHHMMSSZ``), so monitoring the same data twice
rewrites one file and a series of monitor runs over time gives one file per window.

What: strict JSON (non-finite scores are ``null`` with a ``<key>_reason``), written atomically,
with the window sizes and spans and the thresholds used (``DriftResult``). Reading validates the
schema and refuses a corrupt or foreign file with an ``ArtifactError`` naming it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from mlfactory.errors import ArtifactError, validation_summary
from mlfactory.jsonio import read_json, write_json
from mlfactory.models.base import CLASS_NAMES
from mlfactory.serving.drift import DriftConfig

MONITORING_DIR = "monitoring"
DRIFT_FORMAT = 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DriftScore(_Strict):
    target: str
    kind: Literal["feature", "prediction"]
    timeframe: str | None
    psi: float | None
    ks: float | None
    psi_reason: str | None = None
    ks_reason: str | None = None
    n_reference: int
    n_recent: int
    status: Literal["ok", "warn", "alert"]


class WindowSpan(_Strict):
    rows: int
    start: datetime | None
    end: datetime | None


class ClassShares(_Strict):
    classes: tuple[str, str, str] = CLASS_NAMES
    reference: tuple[float, float, float]
    recent: tuple[float, float, float]


class DriftResult(_Strict):
    """One monitor run: a recent window of one data file against one bundle's training period."""

    format: Literal[1] = DRIFT_FORMAT
    created: datetime
    bundle: str
    bundle_id: str
    bundle_sha256: str | None
    generation: str | None
    data: str
    data_sha256: str
    config: DriftConfig
    conventions: dict[str, Any]  # how the data file was read (format, stamp, timezone, symbol)
    windows: dict[str, WindowSpan]  # per feature timeframe, and "predictions"
    summary: dict[Literal["ok", "warn", "alert"], int]
    class_shares: ClassShares
    scores: list[DriftScore]

    @property
    def window_end(self) -> datetime | None:
        """The end of the recent window: the last monitored decision (else the latest feature row)."""
        ends = [w.end for w in self.windows.values() if w.end is not None]
        pred = self.windows.get("predictions")
        return pred.end if pred is not None and pred.end is not None else max(ends, default=None)


def default_results_dir(bundle_dir: Path) -> Path:
    """``RUN/monitoring/<bundle-id>`` for a bundle at ``RUN/ensembles/<bundle-id>``."""
    bundle_dir = Path(bundle_dir)
    return bundle_dir.parent.parent / MONITORING_DIR / bundle_dir.name


def write_drift_result(result: dict[str, Any], directory: Path) -> Path:
    """Validate ``result`` (``monitor_file``'s) and write it atomically as ``directory/<stamp>.json``."""
    from datetime import UTC

    record = {"format": DRIFT_FORMAT, "created": datetime.now(UTC).isoformat(timespec="seconds"), **result}
    parsed = _validate(record, "<monitor result>")
    end = parsed.window_end
    if end is None:
        raise ArtifactError(f"{result.get('data')}: the recent window is empty; nothing to record")
    return write_json(Path(directory) / f"{end.strftime('%Y%m%dT%H%M%SZ')}.json", record)


def read_drift_result(path: Path) -> DriftResult:
    return _validate(read_json(path, "drift result"), str(path))


def read_run_drift_results(run: Path) -> dict[str, list[DriftResult]]:
    """Every drift result under ``RUN/monitoring/``, per bundle id, oldest window first."""
    root = Path(run) / MONITORING_DIR
    out: dict[str, list[DriftResult]] = {}
    for directory in sorted(p for p in root.glob("*") if p.is_dir()):
        results = [read_drift_result(f) for f in sorted(directory.glob("*.json"))]
        if results:
            out[directory.name] = sorted(results, key=lambda r: (r.window_end is None, r.window_end))
    return out


def _validate(record: Any, source: str) -> DriftResult:
    try:
        return DriftResult.model_validate(record)
    except ValidationError as exc:
        raise ArtifactError(
            f"{source}: not a drift result of this mlfactory ({validation_summary(exc, limit=5)}); "
            "rerun `mlfactory monitor --bundle DIR --data FILE` to rewrite it"
        ) from exc
