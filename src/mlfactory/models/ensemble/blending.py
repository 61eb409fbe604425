"""Blending: the meta-learner is fitted only on a holdout slice — the latest ``holdout_frac`` of the
stacked rows it is given, in time order. Earlier rows are not used at all, so the meta-learner
learns how the bases behave on the most recent period (at the price of fewer rows than stacking).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from mlfactory.models.base import Dataset
from mlfactory.models.config import categorical_dim, float_dim
from mlfactory.models.ensemble._base import latest_slice
from mlfactory.models.ensemble._delegating import META_LEARNER_CHOICES, DelegatingEnsemble, DelegatingParams
from mlfactory.models.registry import register


class BlendingParams(DelegatingParams):
    holdout_frac: float = Field(
        0.3, gt=0, lt=1, description="latest share of the rows the meta-learner is fitted on"
    )


@register
class BlendingModel(DelegatingEnsemble):
    name = "blending"
    Params = BlendingParams
    search_space: ClassVar[dict[str, Any]] = {
        "meta_learner": categorical_dim(*META_LEARNER_CHOICES),
        "holdout_frac": float_dim(0.2, 0.6),
    }

    params: BlendingParams

    def _fit_rows(self, train: Dataset) -> np.ndarray:
        return latest_slice(len(train), self.params.holdout_frac, role=f"{self.name} holdout_frac")[1]
