"""Cross-validation statistics from out-of-fold predictions: per-fold metrics and CPCV path Sharpes.

Inputs are an OOF frame (``timestamp, fold, p_short, p_neutral, p_long``; a row per decision and
fold that predicted it, as ``training/oof.py`` writes) and the decisions' outcomes (``timestamp,
label, ret, entry_price``). Sharpe ratios are per decision, net of costs (``evaluation.trials``).

**CPCV paths** (AFML ch. 12). With ``N`` groups and ``k`` test groups there are ``C(N, k)`` folds in
``itertools.combinations`` order and ``C(N-1, k-1)`` backtest paths; path ``p`` takes, for group
``g``, the prediction of fold ``paths[p, g]`` (``splits.cpcv.cpcv_paths``). A decision's group is
the one group every fold that predicted it tests (a decision some of its folds did not predict,
e.g. a skipped fold, belongs to no path). Each path is a full out-of-sample history: the spread of
the path Sharpes shows how much the Sharpe depends on which folds happened to be chosen.
"""

from __future__ import annotations

from itertools import combinations
from math import comb

import numpy as np
import polars as pl
from sklearn.metrics import log_loss

from mlfactory.data.instruments import Instrument
from mlfactory.errors import DataError
from mlfactory.evaluation.trials import decision_net_returns
from mlfactory.splits.cpcv import cpcv_paths

PROBA = ("p_short", "p_neutral", "p_long")
CLASSES = (-1, 0, 1)
PATH_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def _per_decision_sharpe(r: np.ndarray) -> float:
    std = r.std(ddof=1) if r.shape[0] > 1 else 0.0
    return float(r.mean() / std) if std > 0 else 0.0


def fold_metrics(
    oof: pl.DataFrame, outcomes: pl.DataFrame, instrument: Instrument
) -> list[dict[str, float | int]]:
    """Rows, log loss, accuracy and per-decision net Sharpe of each fold's predictions."""
    joined = oof.join(outcomes, on="timestamp", how="inner").sort("fold", "timestamp")
    out = []
    for (fold,), part in joined.group_by("fold", maintain_order=True):
        proba = part.select(PROBA).to_numpy()
        y = part["label"].to_numpy()
        r = decision_net_returns(proba, part["ret"].to_numpy(), part["entry_price"].to_numpy(), instrument)
        out.append(
            {
                "fold": int(fold),
                "rows": part.height,
                "log_loss": float(log_loss(y, proba, labels=list(CLASSES))),
                "accuracy": float((np.array(CLASSES)[proba.argmax(axis=1)] == y).mean()),
                "sharpe_per_decision": _per_decision_sharpe(r),
            }
        )
    return out


def cpcv_test_groups(n_folds: int, n_groups: int) -> list[tuple[int, ...]]:
    """The test groups of each fold, recovered from the fold count: ``C(N, k) = n_folds``."""
    for k in range(1, n_groups):
        if comb(n_groups, k) == n_folds:
            return list(combinations(range(n_groups), k))
    raise DataError(f"{n_folds} folds is not C({n_groups}, k) for any k; not a CPCV with {n_groups} groups")


def decision_groups(oof: pl.DataFrame, test_groups: list[tuple[int, ...]]) -> pl.DataFrame:
    """``timestamp, group``: the group every fold that predicted the decision tests (-1 when none is)."""
    per_ts = oof.group_by("timestamp").agg(pl.col("fold").unique()).sort("timestamp")
    groups = []
    for folds in per_ts["fold"].to_list():
        common = set.intersection(*(set(test_groups[f]) for f in folds))
        groups.append(common.pop() if len(common) == 1 else -1)
    return per_ts.select("timestamp").with_columns(pl.Series("group", groups, dtype=pl.Int64))


def cpcv_path_sharpes(
    oof: pl.DataFrame, outcomes: pl.DataFrame, n_groups: int, instrument: Instrument
) -> np.ndarray:
    """Per-decision net Sharpe of every CPCV backtest path (see the module docstring)."""
    n_folds = int(oof["fold"].max()) + 1
    test_groups = cpcv_test_groups(n_folds, n_groups)
    paths = cpcv_paths(n_groups, test_groups)
    rows = oof.join(decision_groups(oof, test_groups), on="timestamp").filter(pl.col("group") >= 0)
    rows = rows.join(outcomes, on="timestamp", how="inner").sort("timestamp")
    group, fold = rows["group"].to_numpy(), rows["fold"].to_numpy()
    proba = rows.select(PROBA).to_numpy()
    r_all = decision_net_returns(proba, rows["ret"].to_numpy(), rows["entry_price"].to_numpy(), instrument)
    return np.array([_per_decision_sharpe(r_all[fold == path[group]]) for path in paths])


def path_sharpe_summary(sharpes: np.ndarray) -> dict[str, float | int]:
    """Count, mean, standard deviation and quantiles of the path Sharpes."""
    s = np.asarray(sharpes, dtype=np.float64)
    if s.size == 0:
        raise DataError("path Sharpes: no path to summarise")
    q = np.quantile(s, PATH_QUANTILES)
    return {
        "n_paths": int(s.size),
        "mean": float(s.mean()),
        "std": float(s.std(ddof=1)) if s.size > 1 else 0.0,
        **{f"q{round(p * 100):02d}": float(v) for p, v in zip(PATH_QUANTILES, q, strict=True)},
        "share_positive": float((s > 0).mean()),
    }
