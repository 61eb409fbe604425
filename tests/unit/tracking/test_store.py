"""Which store a command records to, and the error when it cannot be opened."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlfactory.errors import MlfactoryError
from mlfactory.tracking.store import (
    URI_ENV,
    default_tracking_uri,
    open_store,
    resolve_tracking_uri,
    sqlite_path,
)


def test_default_store_is_a_sqlite_database_beside_the_run(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(URI_ENV, raising=False)
    run = tmp_path / "runs" / "mes"
    uri = resolve_tracking_uri(run, None)
    assert uri == default_tracking_uri(run) == f"sqlite:///{tmp_path / 'runs' / 'mlruns.db'}"
    assert sqlite_path(uri) == tmp_path / "runs" / "mlruns.db"


def test_relative_run_paths_give_an_absolute_database(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(URI_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert (
        resolve_tracking_uri(Path("runs/mes"), None)
        == f"sqlite:///{tmp_path.resolve() / 'runs' / 'mlruns.db'}"
    )


def test_option_beats_environment_beats_default(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(URI_ENV, "http://tracking.example:5000")
    assert resolve_tracking_uri(tmp_path, None) == "http://tracking.example:5000"
    assert resolve_tracking_uri(tmp_path, "sqlite:///x.db") == "sqlite:///x.db"


def test_a_store_in_a_missing_directory_names_the_uri_and_no_track(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'missing' / 'mlruns.db'}"
    with pytest.raises(MlfactoryError) as err:
        open_store(uri)
    assert uri in str(err.value) and "--no-track" in str(err.value)


def test_reading_a_store_that_was_never_written_is_refused(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlruns.db'}"
    with pytest.raises(MlfactoryError, match="record a command first"):
        open_store(uri, create=False)
    assert not (tmp_path / "mlruns.db").exists()


@pytest.mark.parametrize("problem", ["is not a file", "is not an SQLite database"])
def test_a_path_that_is_not_a_database_is_refused_at_once(tmp_path: Path, problem: str) -> None:
    db = tmp_path / "mlruns.db"
    if problem == "is not a file":
        db.mkdir()
    else:
        db.write_text("time,open,high,low,close\n")
    with pytest.raises(MlfactoryError, match=problem) as err:
        open_store(f"sqlite:///{db}")
    assert "--no-track" in str(err.value)
