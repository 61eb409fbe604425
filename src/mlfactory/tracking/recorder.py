"""Write run records into an opened MLflow store: a run per record, children linked to their parent."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from mlfactory.tracking.record import Artifact, RunRecord
from mlfactory.tracking.store import Store

METRICS_PER_BATCH = 1000  # MLflow's limits per log_batch call
PARAMS_PER_BATCH = 100
MAX_TAG_VALUE = 8000
PARENT_TAG = "mlflow.parentRunId"
RUN_NAME_TAG = "mlflow.runName"


def start_run(store: Store, record: RunRecord, parent_id: str | None = None) -> str:
    """Create the run with its tags and params; return its id (metrics and artifacts come later)."""
    tags = {**record.tags, RUN_NAME_TAG: record.name}
    if parent_id:
        tags[PARENT_TAG] = parent_id
    run = store.client.create_run(store.experiment_id, tags=_clip(tags), run_name=record.name)
    run_id = run.info.run_id
    _log_batch(store, run_id, params=record.params)
    return run_id


def log_results(store: Store, run_id: str, record: RunRecord) -> None:
    """Metrics, step series, late tags and artifacts of ``record`` onto an existing run."""
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    metrics = [Metric(k, v, now, 0) for k, v in record.metrics.items()]
    metrics += [Metric(k, v, now, step) for k, points in record.series.items() for step, v in points]
    _log_batch(store, run_id, metrics=metrics, tags=record.tags)
    log_artifacts(store, run_id, record.artifacts)


def write_record(store: Store, record: RunRecord, parent_id: str | None = None) -> str:
    """The whole tree under ``record``: each run is finished once its own content is logged."""
    run_id = start_run(store, record, parent_id)
    log_results(store, run_id, record)
    for child in record.children:
        write_record(store, child, run_id)
    store.client.set_terminated(run_id, "FINISHED")
    return run_id


def log_artifacts(store: Store, run_id: str, artifacts: Iterable[Artifact]) -> None:
    """Upload files; a file whose artifact name differs from its own is uploaded as a renamed copy."""
    with tempfile.TemporaryDirectory(prefix="mlfactory-artifacts-") as tmp:
        for a in artifacts:
            source = a.source
            if a.name != source.name:
                source = Path(tmp) / a.name
                shutil.copyfile(a.source, source)
            store.client.log_artifact(run_id, str(source), a.folder)


def _log_batch(
    store: Store,
    run_id: str,
    *,
    metrics: list | None = None,
    params: dict | None = None,
    tags: dict | None = None,
) -> None:
    """MLflow's per-call limits: 1000 metrics, 100 params, 100 tags."""
    from mlflow.entities import Param, RunTag

    metrics = metrics or []
    param_list = [Param(k, v) for k, v in (params or {}).items()]
    tag_list = [RunTag(k, v) for k, v in _clip(tags or {}).items()]
    for start in range(0, len(metrics), METRICS_PER_BATCH):
        store.client.log_batch(run_id, metrics=metrics[start : start + METRICS_PER_BATCH])
    for start in range(0, len(param_list), PARAMS_PER_BATCH):
        store.client.log_batch(run_id, params=param_list[start : start + PARAMS_PER_BATCH])
    for start in range(0, len(tag_list), PARAMS_PER_BATCH):
        store.client.log_batch(run_id, tags=tag_list[start : start + PARAMS_PER_BATCH])


def _clip(tags: dict[str, str]) -> dict[str, str]:
    return {
        k: v if len(v) <= MAX_TAG_VALUE else v[: MAX_TAG_VALUE - 14] + " … (truncated)"
        for k, v in tags.items()
    }
