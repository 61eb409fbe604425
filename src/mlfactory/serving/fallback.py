"""The fallback at a decision where a base the kept combiner reads cannot predict yet.

A ``drop`` bundle's combiner predicts only where every base it reads predicted. A base can lack a
prediction at a decision — its warm-up at the start of the data, a sequence base's window not yet
filled — and without a fallback that decision gets no prediction at all. The bundle's fallback
(``BundleSpec.fallback``, set by the recipe's ``fallback``) says what predicts there instead:

- ``available`` with a meta-learner or the weighted average kept: the inverse-OOF-loss weighted
  average over the bases that predicted, their weights renormalised (the weights are the
  ``weighted_average`` guard candidate's, fitted on the training OOF stack and recorded in the
  bundle; a meta-learner cannot run on a partial row);
- ``available`` with the best base kept: the best-ranked base that predicted, alone (bases ranked by
  OOF log loss, lowest first) — the guard preferred one base to any average, so the fallback does too;
- ``none``: no prediction at such a decision (the behaviour before fallbacks).

At a decision where every base the combiner reads predicted, the combiner predicts as trained; the
fallback never changes those rows. An ``impute`` bundle has no separate fallback: its combiner was
trained with the imputed blocks and ``<base>__mask`` columns, so a partial row goes through it
(the weighted average over the unmasked bases; a meta-learner reading the masks; the best base's
imputed priors where it is masked).

Each output row names what produced it (``combiner``): the kept candidate (``meta``,
``weighted_average``, ``best_base``); ``<kept>(imputed)`` for an impute bundle's partial row;
``weighted_average(available)`` or ``best_base(available)`` for a fallback row.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl

from mlfactory.adapters.stacking import stack_predictions
from mlfactory.models.ensemble._base import probability_blocks
from mlfactory.models.ensemble.voting import vote_block, weighted_vote
from mlfactory.serving.bundle import BundleSpec

AVAILABLE = "(available)"
IMPUTED = "(imputed)"


def fallback_active(spec: BundleSpec) -> bool:
    """Whether decisions some combiner base cannot predict get a fallback prediction."""
    return spec.coverage_policy == "drop" and spec.fallback.rule == "available"


def fallback_label(spec: BundleSpec) -> str:
    """The ``combiner`` value of a fallback row."""
    rule = "best_base" if spec.combiner.candidate == "best_base" else "weighted_average"
    return rule + AVAILABLE


def ranked_bases(spec: BundleSpec) -> tuple[str, ...]:
    """Every base by OOF log loss, lowest first (ties keep the bundle's order): the best base's fallbacks."""
    losses = spec.fallback.oof_log_loss
    return tuple(sorted(spec.bases, key=lambda b: losses.get(b, np.inf)))


def fallback_bases(spec: BundleSpec, used: tuple[str, ...]) -> tuple[str, ...]:
    """The bases the fallback may read, in the order it ranks them: the combiner's own ``used`` bases
    (an average), or every base ranked by OOF loss (the best base kept)."""
    if not fallback_active(spec):
        return ()
    return ranked_bases(spec) if spec.combiner.candidate == "best_base" else used


def fallback_predictions(
    spec: BundleSpec, ts: np.ndarray, predictions: Mapping[str, pl.DataFrame]
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """At decisions ``ts`` where at least one of ``predictions``' bases predicted: (timestamps, (n, 3)
    probabilities, the bases used per row) of the fallback rule; decisions no base predicted are left out.

    ``predictions`` holds the fallback bases in rank order (``fallback_bases``).
    """
    names = list(predictions)
    if len(ts) == 0:
        return np.empty(0, np.int64), np.empty((0, 3)), []
    # the impute stack gives each base's block and its mask on the decisions some base predicted,
    # with the same float32 stacking as the combiner's matrix
    matrix = stack_predictions(ts, predictions, policy="impute", priors=np.asarray(spec.priors))
    x = matrix.view.x
    blocks = probability_blocks(matrix.view.feature_names)
    probs = [vote_block(x[:, b.columns]) for b in blocks]
    live = np.column_stack([x[:, b.mask] < 0.5 for b in blocks])  # impute stacks always carry masks
    if spec.combiner.candidate == "best_base":
        first = np.argmax(live, axis=1)  # the best-ranked base that predicted
        live = np.arange(len(names))[None, :] == first[:, None]
        proba = np.stack(probs, axis=1)[np.arange(len(x)), first]
    else:
        proba = weighted_vote(probs, live, np.array([spec.fallback.weights[b] for b in names]))
    used = [",".join(n for n, ok in zip(names, row, strict=True) if ok) for row in live.tolist()]
    return matrix.view.timestamps, proba, used
