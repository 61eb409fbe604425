"""The leaderboard read from a tracking store instead of run directories: same columns, same sort.

Every finished ``model`` and ``ensemble`` run of every experiment in the store is a candidate; a
model retrained in the same run directory is recorded again, so only the latest record of each
(run directory, kind, name) is shown — what the run directory itself holds. Records of another
generation of a run directory (its data or config changed since) are left out, as the
directory leaderboard leaves out stale artifacts. Metric values come
from the flattened metrics (rebuilt into the metrics.json shape), the text columns from tags.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlfactory.errors import ArtifactError, ConfigError
from mlfactory.tracking.flatten import unflatten
from mlfactory.tracking.store import RUNS_DIR_HINT, Store, open_store, store_error

KINDS = ("model", "ensemble")
PAGE = 1000
MAX_PAGES = 100  # 100,000 runs


def build_any_leaderboard(runs_dir: Path | None, uri: str | None, metric: str, split: str):
    """From run directories under ``runs_dir`` or from the tracking store at ``uri`` (exactly one)."""
    if (runs_dir is None) == (uri is None):
        raise ConfigError(
            "leaderboard: give either RUNS_DIR (a directory of run directories) or --tracking-uri URI "
            "(an MLflow store, e.g. sqlite:///runs/mlruns.db), not both and not neither"
        )
    if uri is not None:
        return build_store_leaderboard(uri, metric, split)
    from mlfactory.evaluation.report.leaderboard import build_leaderboard

    return build_leaderboard(runs_dir, metric, split)


def build_store_leaderboard(uri: str, metric: str, split: str):
    """``Leaderboard`` of the runs recorded in the store at ``uri``."""
    from mlfactory.evaluation.report.leaderboard import (
        METRIC_DIRECTIONS,
        SHOWN_METRICS,
        SPLITS,
        Leaderboard,
        extra_columns,
        metric_value,
        sort_rows,
    )

    if metric not in METRIC_DIRECTIONS:
        metric_value({}, metric, split)  # raises the leaderboard's own "unknown metric" message
    if split not in SPLITS:
        raise ConfigError(f"--split {split!r}: unknown split; use one of {', '.join(SPLITS)}")
    store = open_store(uri, create=False, hint=RUNS_DIR_HINT)
    rows: list[dict[str, Any]] = []
    runs: list[Path] = []
    for run in latest_results(store):
        tags = run.data.tags
        metrics = metrics_record(tags, run.data.metrics)
        run_dir = tags.get("run_dir", "")
        if Path(run_dir) not in runs:
            runs.append(Path(run_dir))
        row = {c: text for c, text in _text_columns(tags, run_dir).items()}
        try:
            row["value"] = metric_value(metrics, metric, split)
            for m in SHOWN_METRICS:
                row[m] = row["value"] if m == metric else metric_value(metrics, m, split)
        except ArtifactError as exc:
            raise ArtifactError(
                f"tracking store {uri}, MLflow run {run.info.run_id} ({tags.get('name')} in {run_dir}): "
                f"its metrics do not form a metrics record ({exc}); record the command again"
            ) from exc
        row[metric] = row["value"]
        row.update(extra_columns(metrics, split))
        rows.append(row)
    rows.sort(key=lambda r: (r["run"], KINDS.index(r["kind"]), r["name"]))
    direction = METRIC_DIRECTIONS[metric]
    return Leaderboard(metric, split, direction, sorted(runs), sort_rows(rows, direction))


def metrics_record(tags: dict[str, str], flat: dict[str, float]) -> dict[str, Any]:
    """The metrics.json shape of a recorded run: its flattened metrics nested again, and the
    record's text fields (kind, model, family, timeframe) from the run's tags."""
    record = unflatten(flat)
    for key in ("horizon", "seed"):
        if isinstance(record.get(key), float):
            record[key] = int(record[key])
    kind = tags.get("kind")
    text = {"kind": kind, "model": tags.get("model") or tags.get("name"), "family": tags.get("family")}
    text["timeframe"] = tags.get("timeframe")
    record.update({k: v for k, v in text.items() if v is not None and k not in record})
    return record


def latest_results(store: Store) -> list[Any]:
    """The newest finished model/ensemble run per (run directory, kind, name), across experiments,
    of one generation per run directory (see ``current_generations``)."""
    client = store.client
    try:
        experiments = [e.experiment_id for e in client.search_experiments()]
        recorded = [
            run
            for kind in KINDS
            for run in _search(
                client, experiments, f"tags.kind = '{kind}' AND attributes.status = 'FINISHED'"
            )
        ]
    except Exception as exc:
        raise store_error(
            store.uri, f"cannot be searched ({type(exc).__name__}: {exc})", RUNS_DIR_HINT
        ) from exc
    recorded.sort(key=lambda r: r.info.start_time, reverse=True)
    generations = current_generations(recorded)
    found: dict[tuple[str, str, str], Any] = {}
    for run in recorded:
        tags = run.data.tags
        run_dir = tags.get("run_dir", "")
        if tags.get("generation") != generations[run_dir]:
            continue  # another generation of this run directory: never mixed in
        found.setdefault((run_dir, tags.get("kind", ""), tags.get("name", run.info.run_name)), run)
    return list(found.values())


def current_generations(recorded: list[Any]) -> dict[str, str | None]:
    """Per run directory, the generation to show: the directory's own when it is readable here,
    else that of its newest record (``recorded`` is newest first)."""
    from mlfactory.run_dir import RunDir

    out: dict[str, str | None] = {}
    for run in recorded:
        run_dir = run.data.tags.get("run_dir", "")
        if run_dir not in out:
            manifest = RunDir(Path(run_dir)).read_manifest() if run_dir and Path(run_dir).is_dir() else {}
            out[run_dir] = manifest.get("generation") or run.data.tags.get("generation")
    return out


def _search(client: Any, experiments: list[str], query: str):
    token = None
    for _ in range(MAX_PAGES):
        page = client.search_runs(
            experiments, query, max_results=PAGE, order_by=["attributes.start_time DESC"], page_token=token
        )
        yield from page
        token = page.token
        if not token:
            return


def _text_columns(tags: dict[str, str], run_dir: str) -> dict[str, Any]:
    """Every text column the leaderboard shows, from the run's tags (``None`` when not recorded)."""
    from mlfactory.evaluation.report.leaderboard import TEXT_COLUMNS

    horizon = tags.get("horizon")
    known = {
        "run": run_dir,
        "kind": tags.get("kind"),
        "name": tags.get("name"),
        "horizon": int(horizon) if horizon and horizon.isdigit() else horizon,
        "family": tags.get("family") or tags.get("meta_learner"),
    }
    return {c: known.get(c, tags.get(c)) for c in TEXT_COLUMNS}
