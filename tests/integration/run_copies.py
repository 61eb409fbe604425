"""Copies of the shared session run for tests that must not see each other's artifacts."""

from __future__ import annotations

from pathlib import Path

DERIVED = (
    "models",
    "ensembles",
    "backtests",
    "monitoring",
    "cv",
    "jobs",
    "grid",
    "selection",
    "tuning",
    "stale",
    "report.html",
    "trials.jsonl",  # the run's trial registry: the other tests' models and ensembles
    "trials.jsonl.lock",
)


def copy_dataset(run: Path, dest: Path) -> Path:
    """A private copy of a run's dataset half (manifest, bars, features, labels, splits): other tests
    add models and ensembles to the shared ``small_run``, and a test that counts them must not see those."""
    import shutil

    return Path(
        shutil.copytree(
            run, dest, ignore=lambda d, names: [n for n in names if Path(d) == run and n in DERIVED]
        )
    )
