"""Soft voting: a weighted average of the bases' probability blocks, weights from their OOF log loss.

The blocks are parsed from the column names (``<base>__p_short|p_neutral|p_long``; ``meta__*``
columns are ignored; ``<base>__mask`` marks imputed rows). ``fit`` scores each base on the
training rows it really predicted (mask 0), with the sample weights, and sets its weight:

- ``inverse_loss`` (default): ``w_b ∝ 1 / L_b``. Log losses of useful bases sit in a narrow band
  (about 0.9–1.1 for three classes), so this stays close to equal weights and never lets one
  noisy estimate dominate — the robust choice for a few hundred OOF rows;
- ``softmax``: ``w_b ∝ exp(-(L_b - min L) / temperature)`` — sharper; as ``temperature → 0`` it picks
  the best base, as it grows it tends to equal weights;
- ``equal``: ``w_b = 1 / B``;
- ``best``: all the weight on the base with the lowest log loss (the "best base" of the
  ensemble guard).

At prediction a base whose mask is 1 on a row does not vote on that row (its block holds priors,
not a prediction); the other weights are renormalised. A row where every base is masked gets the
weighted average of the imputed blocks (with ``best``, a row where the best base is masked gets its
imputed block). Validation data is unused.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from mlfactory.errors import DataError
from mlfactory.models.base import CLASSES, Family, ModelParams
from mlfactory.models.config import categorical_dim, float_dim
from mlfactory.models.ensemble._base import (
    ProbabilityBlock,
    StackedModel,
    probability_blocks,
    weighted_log_loss,
)
from mlfactory.models.registry import register
from mlfactory.models.tabular._base import ValArrays

MODEL_FILE = "model.json"


class VotingParams(ModelParams):
    weighting: Literal["inverse_loss", "softmax", "equal", "best"] = "inverse_loss"
    temperature: float = Field(
        0.05, gt=0, description="softmax weighting only: log-loss scale of the weights"
    )


def vote_weights(losses: np.ndarray, weighting: str, temperature: float) -> np.ndarray:
    """Base weights (summing to 1) from their log losses."""
    if weighting == "equal":
        w = np.ones_like(losses)
    elif weighting == "best":
        w = (np.arange(losses.size) == np.argmin(losses)).astype(np.float64)
    elif weighting == "inverse_loss":
        w = 1.0 / np.maximum(losses, 1e-12)
    else:
        w = np.exp(-(losses - losses.min()) / temperature)
    return w / w.sum()


def vote_block(p: np.ndarray) -> np.ndarray:
    """One base's (n, 3) stacked probabilities as the vote reads them: float64, clipped at 0, rows summing to 1."""
    p = np.clip(np.asarray(p).astype(np.float64), 0.0, None)
    return p / np.maximum(p.sum(axis=1, keepdims=True), 1e-300)


def weighted_vote(blocks: list[np.ndarray], live: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per row, the average of the (n, 3) probability ``blocks`` with ``weights`` renormalised over the
    bases ``live`` there (``live``: (n, B) booleans); a row where no base is live averages them all.

    The vote of ``VotingModel`` and the serving fallback over the bases that predicted at a decision.
    """
    w = np.asarray(weights, np.float64)
    row_w = np.asarray(live, np.float64) * w
    row_w[row_w.sum(axis=1) == 0] = w  # every voting base imputed: average their imputed blocks
    row_w /= row_w.sum(axis=1, keepdims=True)
    out = np.zeros((len(row_w), 3))
    for j, block in enumerate(blocks):
        out += row_w[:, j : j + 1] * block
    return out


@register
class VotingModel(StackedModel):
    name = "voting"
    family = Family.ENSEMBLE
    uses_validation = False
    Params = VotingParams
    search_space: ClassVar[dict[str, Any]] = {
        "weighting": categorical_dim("inverse_loss", "softmax", "equal"),
        "temperature": float_dim(0.005, 0.5, log=True),
    }

    params: VotingParams

    def _fit_arrays(self, x: np.ndarray, y: np.ndarray, w: np.ndarray, val: ValArrays | None) -> None:
        blocks = probability_blocks(self.feature_names_)
        label_col = self.classes_[y] + 1  # column of the true class in a (short, neutral, long) block
        losses = []
        for b in blocks:
            live = self._live(x, b)
            if not live.any():
                raise DataError(
                    f"model {self.name!r}: base {b.base!r} is masked on every training row; drop it"
                )
            losses.append(weighted_log_loss(self._block(x[live], b), label_col[live], w[live]))
        self.base_log_loss_ = {b.base: loss for b, loss in zip(blocks, losses, strict=True)}
        weights = vote_weights(np.array(losses), self.params.weighting, self.params.temperature)
        self.weights_ = {b.base: float(v) for b, v in zip(blocks, weights, strict=True)}
        self.blocks_ = blocks
        self.classes_ = np.array(CLASSES, dtype=np.int64)  # the vote covers all three columns of the blocks

    @staticmethod
    def _block(x: np.ndarray, b: ProbabilityBlock) -> np.ndarray:
        return vote_block(x[:, b.columns])

    @staticmethod
    def _live(x: np.ndarray, b: ProbabilityBlock) -> np.ndarray:
        return np.ones(len(x), dtype=bool) if b.mask is None else x[:, b.mask] < 0.5

    def _predict_arrays(self, x: np.ndarray) -> np.ndarray:
        w = np.array([self.weights_[b.base] for b in self.blocks_])
        live = np.column_stack([self._live(x, b) for b in self.blocks_])
        return weighted_vote([self._block(x, b) for b in self.blocks_], live, w)

    def _save_native(self, directory: Path) -> list[str]:
        state = {"weights": self.weights_, "base_log_loss": self.base_log_loss_}
        (directory / MODEL_FILE).write_text(json.dumps(state, indent=2))
        return [MODEL_FILE]

    def _load_native(self, directory: Path, meta: dict[str, Any]) -> None:
        state = json.loads((directory / MODEL_FILE).read_text())
        self.blocks_ = probability_blocks(self.feature_names_)
        self.weights_ = {k: float(v) for k, v in state["weights"].items()}
        self.base_log_loss_ = {k: float(v) for k, v in state["base_log_loss"].items()}
