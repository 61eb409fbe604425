"""Where runs are recorded, and opening that store with a clear error when it cannot be opened.

The default store is a sqlite database beside the run directories (``<parent of RUN>/mlruns.db``)
with artifacts in ``<parent of RUN>/mlartifacts/``; ``--tracking-uri`` or ``MLFLOW_TRACKING_URI``
point at another database or at an MLflow server. ``mlflow`` is imported here only inside
functions, so ``mlfactory --help`` never loads it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlfactory.errors import MlfactoryError

DEFAULT_DB = "mlruns.db"
ARTIFACT_DIR = "mlartifacts"
DEFAULT_EXPERIMENT = "mlfactory"
URI_ENV = "MLFLOW_TRACKING_URI"
EXPERIMENT_ENV = "MLFLOW_EXPERIMENT_NAME"
SQLITE = "sqlite:///"
SQLITE_HEADER = b"SQLite format 3\x00"
# While probing a server: fail within seconds instead of MLflow's minutes of retries.
_PROBE_ENV = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}


class TrackingError(MlfactoryError):
    """The tracking store cannot be opened or written."""


def default_tracking_uri(run: Path) -> str:
    """``sqlite:///<parent of RUN>/mlruns.db`` (absolute)."""
    return sqlite_uri(Path(run).resolve().parent / DEFAULT_DB)


def sqlite_uri(path: Path) -> str:
    return SQLITE + str(Path(path).resolve())


def resolve_tracking_uri(run: Path, uri: str | None) -> str:
    """``uri`` when given, else ``$MLFLOW_TRACKING_URI``, else the sqlite database beside the run."""
    if uri:
        return uri
    return os.environ.get(URI_ENV) or default_tracking_uri(run)


def experiment_name() -> str:
    return os.environ.get(EXPERIMENT_ENV) or DEFAULT_EXPERIMENT


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI, ``None`` for other stores."""
    return Path(uri[len(SQLITE) :]) if uri.startswith(SQLITE) else None


def is_server(uri: str) -> bool:
    return uri.startswith(("http://", "https://", "databricks"))


NO_TRACK_HINT = "or pass --no-track to run without recording to MLflow"
RUNS_DIR_HINT = "or read the run directories instead: `mlfactory leaderboard RUNS_DIR`"


def store_error(uri: str, problem: str, hint: str = NO_TRACK_HINT) -> TrackingError:
    return TrackingError(
        f"tracking store {uri}: {problem}. Point --tracking-uri (or MLFLOW_TRACKING_URI) at a store that "
        f"can be opened, e.g. sqlite:///runs/mlruns.db or http://host:5000 for an MLflow server, {hint}."
    )


@dataclass(frozen=True)
class Store:
    """An opened tracking store: its client and the experiment runs are recorded in."""

    uri: str
    client: Any  # mlflow.tracking.MlflowClient
    experiment_id: str


def open_store(uri: str, *, create: bool = True, hint: str = NO_TRACK_HINT) -> Store:
    """Open ``uri`` and get (or, with ``create``, make) the experiment; ``TrackingError`` on failure."""
    db = sqlite_path(uri)
    if db is not None:
        check_sqlite_file(uri, db, create, hint)
    import logging

    from mlflow.tracking import MlflowClient

    # MLflow logs schema migrations at INFO on stderr; keep the command's stderr for its own progress
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)

    name = experiment_name()
    try:
        client = MlflowClient(tracking_uri=uri)
        with _probe_env(uri):
            experiment = client.get_experiment_by_name(name)
            if experiment is not None:
                experiment_id = experiment.experiment_id
            elif create:
                experiment_id = client.create_experiment(name, artifact_location=_artifact_location(db, name))
            else:
                experiment_id = ""
    except Exception as exc:  # any backend failure (sqlalchemy, HTTP, permissions) is the store's
        raise store_error(uri, f"cannot be opened ({type(exc).__name__}: {exc})", hint) from exc
    return Store(uri, client, experiment_id)


def check_sqlite_file(uri: str, db: Path, create: bool, hint: str = NO_TRACK_HINT) -> None:
    """Refuse at once what MLflow would retry for minutes: no directory, not a file, not SQLite, read-only."""
    if not db.parent.is_dir():
        raise store_error(uri, f"the directory {db.parent} does not exist", hint)
    if db.exists() and not db.is_file():
        raise store_error(uri, f"{db} is not a file", hint)
    if db.is_file() and db.stat().st_size > 0:
        with db.open("rb") as fh:
            if fh.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
                raise store_error(uri, f"{db} is not an SQLite database", hint)
    if not create and not db.is_file():
        raise store_error(
            uri, f"no database at {db}; record a command first (train, cv, train-ensemble)", hint
        )
    if create and not os.access(db if db.exists() else db.parent, os.W_OK):
        raise store_error(uri, f"{db if db.exists() else db.parent} is not writable", hint)


def _artifact_location(db: Path | None, experiment: str) -> str | None:
    """Local stores keep artifacts beside the database; a server decides for itself."""
    if db is None:
        return None
    return (db.resolve().parent / ARTIFACT_DIR / experiment).as_uri()


@contextmanager
def _probe_env(uri: str) -> Iterator[None]:
    if not is_server(uri):
        yield
        return
    saved = {k: os.environ.get(k) for k in _PROBE_ENV}
    os.environ.update({k: v for k, v in _PROBE_ENV.items() if saved[k] is None})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
