"""Fixtures for the meta-learner and ensemble tests."""

from __future__ import annotations

import numpy as np
import pytest
from stacked_synth import stacked_dataset

from mlfactory.models.base import Dataset


@pytest.fixture(scope="session")
def stacked() -> tuple[Dataset, Dataset, Dataset]:
    """(train, val, test) chronological slices of one stacked matrix: a good base, a noise base."""
    ds = stacked_dataset(quality={"good": 2.0, "noise": 0.0}, masked="noise")
    return ds.subset(np.arange(0, 800)), ds.subset(np.arange(800, 950)), ds.subset(np.arange(950, 1200))
