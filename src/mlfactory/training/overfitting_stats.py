"""Deflated Sharpe ratio against every configuration tried in the run, and PBO across ensemble candidates.

Every configuration is recorded in the run's trial registry (``RUN/trials.jsonl``, see
``mlfactory.evaluation.trials``) as the moments of its *per-decision returns net of costs*; the DSR
of a model counts every trial of the run (models, tuning trials, ensemble candidates, walk-forward
variants) in that one unit. ``deflated_sharpe`` is the figure at training time; the report reads
the registry again, so every model sees the final count whatever the training order. PBO (CSCV) is
computed on the OOF period from the per-decision net P&L of each candidate an ensemble chooses between.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from mlfactory.evaluation import (
    deflated_sharpe_ratio,
    expected_maximum_sharpe_ratio,
    probability_of_backtest_overfitting,
    sharpe_ratio_moments,
)
from mlfactory.evaluation.trials import UNIT, read_trials

PBO_PARTITIONS = 8


def trial_id_of(directory: Path) -> str:
    """The registry id of a kept model or ensemble directory: ``models/<name>_h<H>``, ``ensembles/<id>``."""
    return f"{Path(directory).parent.name}/{Path(directory).name}"


def run_trial_sharpes(run_root: Path, exclude: Path | None = None) -> list[float]:
    """Per-decision net-of-cost Sharpe ratios of every trial recorded in the run (minus ``exclude``'s)."""
    skip = trial_id_of(exclude) if exclude is not None else None
    return [t.sr for i, t in read_trials(run_root).items() if i != skip and np.isfinite(t.sr)]


def deflated_sharpe(returns: np.ndarray, other_trials: list[float]) -> dict[str, Any]:
    """DSR of per-decision net ``returns`` given the per-decision Sharpe ratios of the other trials.

    With no other trial there is no selection to deflate: ``dsr`` is None ("n/a, 1 trial").
    """
    r = np.asarray(returns, dtype=np.float64)
    if r.size < 3 or not np.isfinite(r).all() or r.std() == 0:
        return {"dsr": None, "display": "n/a, flat or too short", "unit": UNIT}
    m = sharpe_ratio_moments(r)
    trials = [*other_trials, m["sr"]]
    var = float(np.var(trials, ddof=1)) if len(trials) > 1 else 0.0
    out = {
        "dsr": None,
        "display": "n/a, 1 trial",
        "unit": UNIT,
        "sr_per_decision": m["sr"],
        "n_trials": len(trials),
        "var_trials_sr": var,
        "expected_max_sr": expected_maximum_sharpe_ratio(len(trials), var),
        "n_obs": int(r.size),
        "skew": m["skew"],
        "kurt": m["kurt"],
    }
    if len(trials) > 1:
        out["dsr"] = deflated_sharpe_ratio(m["sr"], len(trials), var, r.size, m["skew"], m["kurt"])
        out["display"] = f"{out['dsr']:.2f} ({len(trials)} trials)"
    return out


def pbo_of_candidates(pnl: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """PBO (CSCV) over the candidates' per-decision P&L on common OOF rows (columns = candidates)."""
    names = list(pnl)
    matrix = np.column_stack([pnl[n] for n in names])
    if matrix.shape[1] < 2 or matrix.shape[0] < 4 * PBO_PARTITIONS:
        return {
            "pbo": float("nan"),
            "reason": "needs at least two candidates and enough OOF rows",
            "candidates": names,
        }
    res = probability_of_backtest_overfitting(matrix, PBO_PARTITIONS)
    return {
        "pbo": res.pbo,
        "candidates": names,
        "n_partitions": PBO_PARTITIONS,
        "n_rows": int(matrix.shape[0]),
        "prob_oos_loss": float(getattr(res, "prob_oos_loss", float("nan"))),
    }
