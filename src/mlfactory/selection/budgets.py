"""Per-model feature budgets: how many features each model receives, and of which kind.

Budgets are looked up by model name first, then by the model's family. They are enforced by
default: fewer eligible candidates than the budget's minimum is an error naming the model and the
budget; more than its maximum are cut to the maximum by importance (``policy``).

``kinds`` restricts the candidates to feature kinds of the registry (``"raw"`` or
``"engineered"``); a budget with ``kinds=None`` takes whatever the model's feature set supplies
(e.g. boosting's "engineered + MTF" set, whose MTF columns keep their source feature's kind).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


def _kind_of(value: Any) -> str:
    kind = getattr(value, "kind", value)  # a FeatureSpec or a plain kind string
    if kind not in KINDS:
        raise ConfigError(f"kinds: feature kind must be one of {KINDS}, got {kind!r}")
    return str(kind)


def eligible_features(
    model: str, budget: FeatureBudget, feature_names: Sequence[str], kinds: Mapping[str, Any] | None
) -> tuple[str, ...]:
    """Candidates of the budget's kinds (all candidates when the budget allows any kind).

    ``kinds`` maps feature name to its kind (a string or a ``FeatureSpec``); it is required when
    the budget restricts kinds, and must cover every candidate.
    """
    names = tuple(feature_names)
    if budget.kinds is None:
        return names
    if kinds is None:
        raise ConfigError(
            f"kinds: model {model!r} takes only {'/'.join(budget.kinds)} features; pass kinds "
            "(feature name -> kind, from the feature registry) so they can be picked out"
        )
    missing = [n for n in names if n not in kinds]
    if missing:
        raise ConfigError(f"kinds: no kind given for features {missing[:5]}; map every candidate to its kind")
    return tuple(n for n in names if _kind_of(kinds[n]) in budget.kinds)


def budget_target(model: str, budget: FeatureBudget, n_eligible: int) -> int:
    """How many features ``model`` keeps: all of them within the budget, its maximum above it.

    Raises ``ConfigError`` naming the model and its budget when there are too few.
    """
    if n_eligible < budget.min_features:
        raise ConfigError(
            f"model {model!r}: only {n_eligible} eligible candidate features, but its budget is "
            f"{budget}; give it a larger feature set (more groups or MTF timeframes) or pass enforce=False"
        )
    return min(n_eligible, budget.max_features)
