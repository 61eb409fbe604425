"""What every meta-learner and ensemble combiner shares: 2D-only input, time order, stacked columns.

Their input is the stacked matrix (``mlfactory.adapters.stacking``): a ``TabularView`` whose columns
are base probability blocks ``<base>__p_short|p_neutral|p_long``, optional ``<base>__mask`` columns
(1 where the base had no prediction and its block holds imputed priors) and optional ``meta__*``
meta-features. It is always 2D (DESIGN.md invariant 4): a 3D or 4D view means a base's windows were
passed where its predictions belong, and is refused with a ``DataError`` that says so.

Rows must be in time order (strictly increasing timestamps), because the holdout slices carved
here — early stopping, calibration, blending — are always the *latest* rows, never a shuffle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from mlfactory.adapters.views import ModelInput
from mlfactory.errors import DataError
from mlfactory.models.base import PROBA_COLUMNS, Dataset, Family, Model, MtfStrategy
from mlfactory.models.tabular._base import TabularModel

META_PREFIX = "meta__"
MASK_SUFFIX = "mask"


def check_stacked_input(model: Model, x: ModelInput) -> None:
    """Refuse anything but a 2D view, naming the fix (the old system's 3D meta-learner bug)."""
    if x.ndim != 2:
        raise DataError(
            f"model {model.name!r} is a {model.family.value} model and takes the stacked 2D matrix of base "
            f"probabilities (tabular_2d); got a {x.ndim}D view. Stack the bases' predictions as columns "
            "(mlfactory.adapters.stacking.stack_predictions) — never pass a sequence base's windows"
        )


def check_time_order(data: Dataset, model: str, role: str) -> None:
    ts = np.asarray(data.timestamps)
    if ts.size > 1 and (np.diff(ts) <= 0).any():
        raise DataError(
            f"model {model!r}: {role} timestamps must be strictly increasing (its holdout slices are the latest "
            "rows in time); sort the stacked matrix by timestamp and drop duplicates"
        )


def check_same_columns(model: Model, expected: tuple[str, ...], x: ModelInput, role: str) -> None:
    if tuple(x.feature_names) != tuple(expected):
        raise DataError(
            f"model {model.name!r}: {role} columns {list(x.feature_names)[:6]}… differ from the fitted stacked "
            f"columns {list(expected)[:6]}…; stack the same bases and meta-features in the same order"
        )


def latest_slice(n: int, frac: float, gap: int = 0, role: str = "holdout") -> tuple[np.ndarray, np.ndarray]:
    """Row indices ``(earlier, latest)``: the latest ``ceil(frac·n)`` rows, and the rows before them less
    the ``gap`` rows just before the slice (a purge for labels that overlap the slice)."""
    n_late = math.ceil(frac * n)
    n_early = n - n_late - gap
    if n_late < 1 or n_early < 1:
        raise DataError(
            f"{role}: {n} rows cannot give a slice of {frac} with a gap of {gap} rows and keep earlier rows; "
            "give more rows, or lower the fraction or the gap"
        )
    return np.arange(n_early), np.arange(n - n_late, n)


@dataclass(frozen=True)
class ProbabilityBlock:
    base: str
    columns: np.ndarray  # (3,) column indices of p_short, p_neutral, p_long
    mask: int | None  # column index of <base>__mask, if present


def probability_blocks(names: tuple[str, ...]) -> list[ProbabilityBlock]:
    """Parse the stacked columns into per-base blocks; ``meta__*`` columns are skipped, anything else fails."""
    index = {n: i for i, n in enumerate(names)}
    bases: list[str] = []
    unknown = []
    for n in names:
        base, sep, part = n.rpartition("__")
        if n.startswith(META_PREFIX):
            continue
        if not sep or not base or part not in (*PROBA_COLUMNS, MASK_SUFFIX):
            unknown.append(n)
        elif base not in bases:
            bases.append(base)
    if unknown:
        raise DataError(
            f"stacked columns {unknown[:5]} are neither <base>__p_short|p_neutral|p_long, <base>__mask nor "
            "meta__*; build the matrix with mlfactory.adapters.stacking.stack_predictions"
        )
    blocks = []
    for base in bases:
        missing = [c for c in PROBA_COLUMNS if f"{base}__{c}" not in index]
        if missing:
            raise DataError(f"stacked columns: base {base!r} lacks {[f'{base}__{c}' for c in missing]}")
        cols = np.array([index[f"{base}__{c}"] for c in PROBA_COLUMNS])
        blocks.append(ProbabilityBlock(base, cols, index.get(f"{base}__{MASK_SUFFIX}")))
    if not blocks:
        raise DataError("stacked columns: no <base>__p_* probability block found; nothing to combine")
    return blocks


class StackedModel(TabularModel):
    """Base of the tabular models fitted on the stacked columns (the META learners and ``voting``).

    A meta-learner treats all columns — probabilities, masks, meta-features — as features. The
    stacked matrix has no missing values (the coverage policy drops or imputes), so NaN is refused.
    Routing defaults are ``Model``'s: a stacked model reads no bars of its own.
    """

    compute_dtype = np.float64

    family: ClassVar[Family] = Family.META
    default_timeframe: ClassVar[str] = Model.default_timeframe
    default_mtf_strategy: ClassVar[MtfStrategy] = Model.default_mtf_strategy
    default_mtf_timeframes: ClassVar[tuple[str, ...]] = Model.default_mtf_timeframes
    default_feature_set: ClassVar[str] = Model.default_feature_set
    allows_nan: ClassVar[bool] = False

    def check_input(self, x: ModelInput) -> None:
        check_stacked_input(self, x)

    def fit(self, train: Dataset, val: Dataset | None = None) -> StackedModel:
        self.check_input(train.x)
        check_time_order(train, self.name, "train")
        return super().fit(train, val)  # type: ignore[return-value]

    def predict_proba(self, x: ModelInput) -> np.ndarray:
        self.check_input(x)
        if hasattr(self, "feature_names_"):
            check_same_columns(self, self.feature_names_, x, "predict")
        return super().predict_proba(x)


def weighted_log_loss(p: np.ndarray, codes: np.ndarray, w: np.ndarray) -> float:
    """Mean of ``-log p[row, code]`` weighted by ``w`` (probabilities clipped at 1e-15)."""
    picked = np.clip(p[np.arange(len(codes)), codes], 1e-15, None)
    return float(-(w * np.log(picked)).sum() / w.sum())
