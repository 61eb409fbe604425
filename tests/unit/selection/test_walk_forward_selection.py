"""Walk-forward selection reads training folds only: perturbing every other row changes nothing."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from mlfactory.errors import ConfigError, DataError
from mlfactory.selection import SelectionParams, SelectionResult, walk_forward_selection
from mlfactory.splits import Fold, purged_kfold, walk_forward

FAST = {
    "mdi": SelectionParams(method="mdi", n_estimators=40, seed=3),
    "mda": SelectionParams(method="mda", n_estimators=30, inner_splits=3, seed=3),
    "sfi": SelectionParams(method="sfi", inner_splits=3, seed=3),
}


def _logistic():
    return LogisticRegression(max_iter=300)


def _run(d, X, y, folds, method, k=4):
    return walk_forward_selection(
        X, y, d.names, ts=d.ts, t1=d.t1, folds=folds, k=k, params=FAST[method], sample_weight=d.w,
        classifier=_logistic if method == "sfi" else None,
    )  # fmt: skip


def _perturb(X, y, rows, seed):
    """Scramble features and labels on ``rows``: shuffled, then overwritten with fresh noise."""
    rng = np.random.default_rng(seed)
    X2, y2 = X.copy(), y.copy()
    X2[rows] = rng.standard_normal((rows.size, X.shape[1])).astype(X.dtype) * 5
    y2[rows] = rng.permutation(y2[rows])
    y2[rows[::3]] = -y2[rows[::3]]
    return X2, y2


@pytest.mark.parametrize("method", ["mdi", "mda", "sfi"])
def test_rows_outside_training_folds_never_matter(make_planted, method):
    d = make_planted(n=800, seed=4)
    folds = walk_forward(d.ts, d.t1, n_splits=2, mode="expanding", embargo_ns=0)
    base = _run(d, d.X, d.y, folds, method)

    in_train = np.zeros(len(d.y), dtype=bool)
    for f in folds:
        in_train[f.train_idx] = True
    outside = np.flatnonzero(~in_train)
    assert outside.size > 200  # the last test block and the purged rows
    X2, y2 = _perturb(d.X, d.y, outside, seed=1)
    after = _run(d, X2, y2, folds, method)
    assert after.selected == base.selected
    assert after.fold_selected == base.fold_selected
    assert after.mean_rank == base.mean_rank
    for a, b in zip(after.fold_importance, base.fold_importance, strict=True):
        np.testing.assert_array_equal(a.mean, b.mean)

    # Not vacuous: scrambling training rows does change the measured importance.
    X3, y3 = _perturb(d.X, d.y, folds[0].train_idx[:150], seed=2)
    moved = _run(d, X3, y3, folds, method)
    assert not np.array_equal(moved.fold_importance[0].mean, base.fold_importance[0].mean)


def test_each_fold_is_ranked_on_its_own_training_rows(make_planted):
    d = make_planted(n=800, seed=4)
    folds = walk_forward(d.ts, d.t1, n_splits=3, mode="expanding", embargo_ns=0)
    res = _run(d, d.X, d.y, folds, "mdi")
    # The later fold's rows differ from the first; a fold's importance depends only on its own rows.
    later_only = walk_forward_selection(
        d.X, d.y, d.names, ts=d.ts, t1=d.t1, folds=folds[2:], k=4, params=FAST["mdi"], sample_weight=d.w
    )
    np.testing.assert_array_equal(later_only.fold_importance[0].mean, res.fold_importance[2].mean)
    assert res.selected_for_fold(2) == later_only.fold_selected[0]
    with pytest.raises(ConfigError, match="fold_id"):
        res.selected_for_fold(7)


def test_planted_features_selected_and_mean_rank_aggregates(make_planted):
    d = make_planted(n=900, seed=6)
    folds = purged_kfold(d.ts, d.t1, n_splits=3, embargo_ns=0)
    res = _run(d, d.X, d.y, folds, "mdi", k=3)
    assert set(res.selected) == set(d.informative)
    assert all(set(s) == set(d.informative) for s in res.fold_selected)
    expected = np.mean([fi.ranks() for fi in res.fold_importance], axis=0)
    np.testing.assert_allclose(res.mean_rank, expected)
    assert res.selected == tuple(np.array(d.names)[np.argsort(expected, kind="stable")[:3]])
    assert SelectionResult.from_dict(res.as_dict()) == res


def test_bad_arguments(make_planted):
    d = make_planted(n=300, seed=1)
    folds = walk_forward(d.ts, d.t1, n_splits=2, mode="expanding", embargo_ns=0)
    kw = {"ts": d.ts, "t1": d.t1, "params": FAST["mdi"]}
    with pytest.raises(ConfigError, match="k"):
        walk_forward_selection(d.X, d.y, d.names, folds=folds, k=99, **kw)
    leaky = Fold(0, np.arange(0, 200), np.arange(150, 300))
    with pytest.raises(DataError, match="own test rows"):
        walk_forward_selection(d.X, d.y, d.names, folds=[leaky], k=3, **kw)
    with pytest.raises(DataError, match="outside X"):
        walk_forward_selection(d.X, d.y, d.names, folds=[Fold(0, np.arange(400), np.arange(0))], k=3, **kw)
    with pytest.raises(ConfigError, match="method"):
        SelectionParams(method="shap")
    with pytest.raises(ConfigError, match="inner_splits"):
        SelectionParams(inner_splits=1)
