"""A small real run (synthetic bars through the real pipeline) shared by the training tests."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from mlfactory.config import load_pipeline_config
from mlfactory.data.instruments import get_instrument
from mlfactory.data.synthetic import generate_bars
from mlfactory.pipeline import run_pipeline

# Tiny hyper-parameters so every model trains in about a second on 2 CPU cores.
TINY_TABULAR = {"n_estimators": 15}
TINY_NEURAL = {"epochs": 1, "seq_len": 8, "batch_size": 128, "patience": 1, "progress": False}


@pytest.fixture(scope="session")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """~24k one-minute bars with a planted momentum pattern → pipeline run (5m clock, 5m/15m/1h features)."""
    tmp = tmp_path_factory.mktemp("small_run")
    path = tmp / "bars.parquet"
    generate_bars(24_000, start=date(2024, 3, 4), seed=21, momentum=0.03).write_parquet(path)
    cfg = load_pipeline_config(
        overrides={
            "ladder": {"mtf_timeframes": ["15m", "30m", "1h", "4h"]},
            "labels": {"horizons": [10]},
        }
    )
    run_pipeline(path, get_instrument("MES"), cfg, tmp / "run")
    return tmp / "run"


def _tiny_params(model_cls) -> list[str]:
    fields = model_cls.Params.model_fields
    values = {**TINY_TABULAR, **TINY_NEURAL}
    return [f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in values.items() if k in fields]


@pytest.fixture(scope="session")
def tiny_params():
    """``tiny_params(model_cls)`` → ``--param`` overrides that make the model train in about a second."""
    return _tiny_params
