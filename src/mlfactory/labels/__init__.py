"""Labels on the decision clock: triple barrier (numba), barrier optimisation, AFML sample weights."""

from mlfactory.labels.barrier_optimization import (
    BarrierOptimizationResult,
    barrier_objective,
    optimize_barriers,
)
from mlfactory.labels.sample_weights import (
    average_uniqueness,
    num_concurrent_events,
    return_attribution,
    sample_weights,
    time_decay,
)
from mlfactory.labels.triple_barrier import (
    TripleBarrierLabels,
    label_horizons,
    prepare_label_inputs,
    triple_barrier_from_inputs,
    triple_barrier_labels,
)

__all__ = [
    "BarrierOptimizationResult",
    "TripleBarrierLabels",
    "average_uniqueness",
    "barrier_objective",
    "label_horizons",
    "num_concurrent_events",
    "optimize_barriers",
    "prepare_label_inputs",
    "return_attribution",
    "sample_weights",
    "time_decay",
    "triple_barrier_from_inputs",
    "triple_barrier_labels",
]
