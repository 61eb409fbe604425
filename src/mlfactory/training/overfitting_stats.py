"""Deflated Sharpe ratio against every configuration tried in the run, and PBO across ensemble candidates.

The DSR (Bailey & López de Prado, 2014) deflates a strategy's Sharpe ratio by the expected maximum
Sharpe of ``n_trials`` unskilled configurations, where ``n_trials`` counts every model and ensemble
evaluated in the run so far (each one is a configuration a researcher could have picked) and the
variance of their Sharpe ratios sets the spread. PBO (CSCV) is computed on the OOF period from the
per-decision P&L of each candidate an ensemble chooses between.
"""

from __future__ import annotations

import json
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

PBO_PARTITIONS = 8


def run_trial_sharpes(run_root: Path, exclude: Path | None = None) -> list[float]:
    """Per-period test Sharpe ratios of every model and ensemble already evaluated in the run."""
    out = []
    for path in sorted(
        [*Path(run_root).glob("models/*/metrics.json"), *Path(run_root).glob("ensembles/*/metrics.json")]
    ):
        if exclude is not None and path.parent == Path(exclude):
            continue
        try:
            t = json.loads(path.read_text())["trading"]["test"]
            sr = float(t["strategy"]["sharpe"]) / np.sqrt(float(t["periods_per_year"]))
        except (KeyError, TypeError, ValueError, json.JSONDecodeError):
            continue
        if np.isfinite(sr):
            out.append(sr)
    return out


def deflated_sharpe(returns: np.ndarray, other_trials: list[float]) -> dict[str, Any]:
    """DSR of per-bar ``returns`` given the per-period Sharpe ratios of the other configurations tried."""
    r = np.asarray(returns, dtype=np.float64)
    if r.size < 3 or not np.isfinite(r).all() or r.std() == 0:
        return {"dsr": float("nan"), "reason": "flat or too short return series"}
    m = sharpe_ratio_moments(r)
    trials = [*other_trials, m["sr"]]
    var = float(np.var(trials, ddof=1)) if len(trials) > 1 else 0.0
    return {
        "dsr": deflated_sharpe_ratio(m["sr"], len(trials), var, r.size, m["skew"], m["kurt"]),
        "sr_per_bar": m["sr"],
        "n_trials": len(trials),
        "var_trials_sr": var,
        "expected_max_sr": expected_maximum_sharpe_ratio(len(trials), var),
        "n_obs": int(r.size),
        "skew": m["skew"],
        "kurt": m["kurt"],
    }


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
