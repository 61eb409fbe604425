"""Stacking: a meta-learner, chosen by name, fitted on every row of the stacked OOF matrix."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from mlfactory.models.base import Dataset
from mlfactory.models.config import categorical_dim
from mlfactory.models.ensemble._delegating import META_LEARNER_CHOICES, DelegatingEnsemble, DelegatingParams
from mlfactory.models.registry import register


class StackingParams(DelegatingParams):
    pass


@register
class StackingModel(DelegatingEnsemble):
    name = "stacking"
    Params = StackingParams
    search_space: ClassVar[dict[str, Any]] = {"meta_learner": categorical_dim(*META_LEARNER_CHOICES)}

    params: StackingParams

    def _fit_rows(self, train: Dataset) -> np.ndarray:
        return np.arange(len(train))
