"""Ridge meta-learner: the ``ridge`` classifier (±1 ridge regression + temperature softmax) on the stacked matrix.

The temperature is fitted on the validation set when one is given, otherwise on the latest
``calibration_frac`` of the stacked rows in time order (see ``mlfactory.models.tabular.ridge``).
Defaults differ from the base model: a lighter penalty (a handful of well-scaled columns) and no
class re-weighting, so the ensemble's probabilities keep the empirical class priors.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from mlfactory.models.config import float_dim
from mlfactory.models.ensemble._base import StackedModel
from mlfactory.models.registry import register
from mlfactory.models.tabular._base import ClassWeight
from mlfactory.models.tabular.ridge import RidgeModel, RidgeParams


class RidgeMetaParams(RidgeParams):
    alpha: float = Field(1.0, gt=0, description="L2 penalty of the ridge regression")
    class_weight: ClassWeight = "none"


@register
class RidgeMetaModel(StackedModel, RidgeModel):
    name = "ridge_meta"
    Params = RidgeMetaParams
    search_space: ClassVar[dict[str, Any]] = {"alpha": float_dim(1e-2, 1e3, log=True)}

    params: RidgeMetaParams
