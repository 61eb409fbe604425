"""Bundles trained through the real pipeline on the shared small run, for the serving tests."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from mlfactory.pipeline import load_and_validate
from mlfactory.serving.bundle import GUARD_CANDIDATES, Bundle, load_bundle
from mlfactory.training.ensemble import EnsembleSpec, train_ensemble

NEURAL = ("epochs=1", "batch_size=128", "patience=1", "progress=false")


@pytest.fixture(scope="session")
def bars_of(small_run: Path):
    """``bars_of(bundle)``: the small run's input bars, validated with the bundle's conventions."""
    manifest = json.loads((small_run / "manifest.json").read_text())

    def load(bundle: Bundle) -> pl.DataFrame:
        bars, _ = load_and_validate(Path(manifest["input"]["path"]), bundle.instrument, bundle.config)
        return bars.drop("row")

    return load


@pytest.fixture(scope="session")
def tabular_bundles(small_run: Path) -> dict[str, Bundle]:
    """Two tabular bases on different timeframes (15m with MTF, 5m), one bundle per guard outcome."""
    out = {}
    for keep in GUARD_CANDIDATES:
        spec = EnsembleSpec(
            bases=("random_forest", "svm"),
            meta_learner="logistic",
            horizon=10,
            params=("random_forest.n_estimators=10", "svm.n_components=32"),
            n_splits=3,
            keep=keep,
            name=f"live_{keep}",
        )
        out[keep] = load_bundle(train_ensemble(small_run, spec).directory)
    return out


@pytest.fixture(scope="session")
def mixed_bundle(small_run: Path) -> Bundle:
    """Tabular (random_forest, 15m), window (tcn, 3D on 5m) and multi-stream (patchtst, 4D on 1m/5m/15m)."""
    spec = EnsembleSpec(
        bases=("random_forest", "tcn", "patchtst"),
        meta_learner="logistic",
        horizon=10,
        params=(
            "random_forest.n_estimators=10",
            *(f"tcn.{p}" for p in NEURAL),
            "tcn.seq_len=8",
            *(f"patchtst.{p}" for p in NEURAL),
            "patchtst.seq_len=16",
        ),
        n_splits=3,
        keep="meta",
        name="live_mixed",
    )
    return load_bundle(train_ensemble(small_run, spec).directory)
