"""Fixtures for the tabular model tests."""

from __future__ import annotations

import numpy as np
import pytest
from tabular_synth import planted_dataset

from mlfactory.models.base import Dataset


@pytest.fixture(scope="session")
def planted() -> tuple[Dataset, Dataset, Dataset]:
    """(train, val, test) chronological slices of one planted dataset."""
    ds = planted_dataset()
    return ds.subset(np.arange(0, 1000)), ds.subset(np.arange(1000, 1200)), ds.subset(np.arange(1200, 1500))
