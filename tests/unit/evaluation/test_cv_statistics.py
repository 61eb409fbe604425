"""Per-fold metrics and CPCV path Sharpes against a slow reference built from the splits themselves."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import log_loss

from mlfactory.errors import DataError
from mlfactory.evaluation.cv_statistics import (
    cpcv_path_sharpes,
    cpcv_test_groups,
    fold_metrics,
    path_sharpe_summary,
)
from mlfactory.evaluation.trials import decision_net_returns
from mlfactory.splits.cpcv import combinatorial_purged_cv

N_ROWS, N_GROUPS, K = 240, 6, 2


@pytest.fixture
def cpcv_case(instrument):
    rng = np.random.default_rng(0)
    ts = np.arange(N_ROWS, dtype=np.int64) * 300 * 10**9
    splits = combinatorial_purged_cv(ts, ts + 600 * 10**9, N_GROUPS, K, 0)
    parts = []
    for f in splits.folds:
        proba = rng.dirichlet(np.ones(3), size=f.test_idx.size)
        parts.append(
            pl.DataFrame(
                {"timestamp": ts[f.test_idx], "fold": np.full(f.test_idx.size, f.fold_id)}
                | {c: proba[:, j] for j, c in enumerate(("p_short", "p_neutral", "p_long"))}
            )
        )
    oof = pl.concat(parts).sort("timestamp", "fold")
    outcomes = pl.DataFrame(
        {
            "timestamp": ts,
            "label": rng.choice([-1, 0, 1], N_ROWS),
            "ret": rng.normal(0.0, 0.002, N_ROWS),
            "entry_price": rng.uniform(3000, 4000, N_ROWS),
        }
    )
    return splits, oof, outcomes, instrument


def test_path_sharpes_match_a_slow_reference(cpcv_case):
    splits, oof, outcomes, instrument = cpcv_case
    got = cpcv_path_sharpes(oof, outcomes, N_GROUPS, instrument)
    assert got.shape == (splits.n_paths,) == (5,)  # C(5, 1)
    for p, path in enumerate(splits.paths):
        pieces = []
        for g, (a, b) in enumerate(splits.groups):
            rows = oof.filter(pl.col("fold") == int(path[g])).join(outcomes, on="timestamp")
            rows = rows.filter(pl.col("timestamp").is_in(outcomes["timestamp"][a:b].implode()))
            pieces.append(rows)
        rows = pl.concat(pieces).sort("timestamp")
        assert rows.height == N_ROWS  # each path is a full history
        r = decision_net_returns(
            rows.select("p_short", "p_neutral", "p_long").to_numpy(),
            rows["ret"].to_numpy(),
            rows["entry_price"].to_numpy(),
            instrument,
        )
        assert got[p] == pytest.approx(r.mean() / r.std(ddof=1))


def test_fold_metrics_by_hand(cpcv_case):
    _, oof, outcomes, instrument = cpcv_case
    folds = fold_metrics(oof, outcomes, instrument)
    assert [f["fold"] for f in folds] == list(range(15))
    part = oof.filter(pl.col("fold") == 3).join(outcomes, on="timestamp")
    proba = part.select("p_short", "p_neutral", "p_long").to_numpy()
    f3 = folds[3]
    assert f3["rows"] == part.height == 2 * N_ROWS // N_GROUPS
    assert f3["log_loss"] == pytest.approx(log_loss(part["label"], proba, labels=[-1, 0, 1]))
    assert f3["accuracy"] == pytest.approx(
        (np.array([-1, 0, 1])[proba.argmax(1)] == part["label"].to_numpy()).mean()
    )


def test_test_groups_recovered_from_the_fold_count():
    assert cpcv_test_groups(15, 6)[:2] == [(0, 1), (0, 2)]
    assert len(cpcv_test_groups(20, 6)[0]) == 3
    with pytest.raises(DataError, match="not C"):
        cpcv_test_groups(7, 6)


def test_path_summary():
    s = path_sharpe_summary(np.array([-0.1, 0.0, 0.1, 0.2, 0.3]))
    assert s["n_paths"] == 5 and s["q50"] == pytest.approx(0.1) and s["share_positive"] == pytest.approx(0.6)
    assert s["q05"] == pytest.approx(np.quantile([-0.1, 0, 0.1, 0.2, 0.3], 0.05))
    with pytest.raises(DataError):
        path_sharpe_summary(np.array([]))
