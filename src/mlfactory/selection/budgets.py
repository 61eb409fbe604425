"""Per-model feature budgets: how many features each model receives, and of which kind.

Budgets are looked up by model name first, then by the model's family. They are enforced by
default: fewer eligible candidates than the budget's minimum is an error naming the model and the
budget; more than its maximum are cut to the maximum by MDI importance on the training rows
(``step.FeatureSelector``).

``kinds`` restricts the candidates to feature kinds of the registry (``"raw"`` or
``"engineered"``); a budget with ``kinds=None`` takes whatever the model's feature set supplies
(e.g. boosting's "engineered + MTF" set, whose MTF columns keep their source feature's kind).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from mlfactory.errors import ConfigError
from mlfactory.models.base import Family
from mlfactory.selection._common import check_positive_int

KINDS: tuple[str, ...] = ("raw", "engineered")


@dataclass(frozen=True)
class FeatureBudget:
    """Between ``min_features`` and ``max_features`` features, of ``kinds`` (None: any kind)."""

    min_features: int
    max_features: int
    kinds: tuple[str, ...] | None = None
    description: str = ""

    def __post_init__(self) -> None:
        check_positive_int(self.min_features, "min_features")
        check_positive_int(self.max_features, "max_features")
        if self.max_features < self.min_features:
            raise ConfigError(f"max_features: {self.max_features} is below min_features {self.min_features}")
        if self.kinds is not None and (not self.kinds or set(self.kinds) - set(KINDS)):
            raise ConfigError(f"kinds: expected a non-empty subset of {KINDS} or None, got {self.kinds!r}")

    def __str__(self) -> str:
        kinds = "any kind" if self.kinds is None else "/".join(self.kinds)
        return f"{self.min_features}-{self.max_features} features ({kinds})"

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["kinds"] = None if self.kinds is None else list(self.kinds)
        return d


MODEL_BUDGETS: dict[str, FeatureBudget] = {
    "lstm": FeatureBudget(40, 80, None, "recurrent: engineered features of its timeframe"),
    "gru": FeatureBudget(40, 80, None, "recurrent: engineered features of its timeframe"),
    "tcn": FeatureBudget(60, 100, None, "temporal convolutions: engineered features of its timeframe"),
    "patchtst": FeatureBudget(4, 12, ("raw",), "raw OHLCV-derived channels"),
    "itransformer": FeatureBudget(5, 10, ("raw",), "raw OHLCV-derived variates"),
    "tft": FeatureBudget(50, 100, None, "engineered + MTF"),
}

FAMILY_BUDGETS: dict[Family, FeatureBudget] = {
    Family.BOOSTING: FeatureBudget(80, 120, None, "engineered + MTF"),
    Family.NEURAL: FeatureBudget(40, 80, None, "recurrent: engineered features of its timeframe"),
}


def _family_of(model: str) -> Family:
    from mlfactory.models.registry import get_model_class  # imports every model; only when needed

    return get_model_class(model).family


def feature_budget(model: str, family: Family | str | None = None) -> FeatureBudget:
    """The budget of ``model``: by name, else by ``family`` (looked up in the registry when None)."""
    if model in MODEL_BUDGETS:
        return MODEL_BUDGETS[model]
    if family is None:
        fam = _family_of(model)
    else:
        try:
            fam = Family(family)
        except ValueError as exc:
            raise ConfigError(
                f"family: unknown family {family!r}; use one of {[f.value for f in Family]}"
            ) from exc
    if fam not in FAMILY_BUDGETS:
        raise ConfigError(
            f"model {model!r} (family {fam.value}) has no feature budget; pass an explicit "
            "budget=FeatureBudget(min, max) or enforce=False to keep its whole feature set"
        )
    return FAMILY_BUDGETS[fam]
