"""Split invariants on random label windows: purge, embargo, coverage and the CPCV path count."""

from __future__ import annotations

from math import comb

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mlfactory.errors import DataError
from mlfactory.splits import (
    combinatorial_purged_cv,
    inner_validation_split,
    purged_kfold,
    train_val_test_split,
    walk_forward,
)

MIN = 60_000_000_000


@st.composite
def label_windows(draw, min_rows=12, max_rows=120):
    n = draw(st.integers(min_rows, max_rows))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    ts = 28_000_000 * MIN + np.cumsum(rng.integers(1, 4, size=n)).astype(np.int64) * 5 * MIN
    t1 = ts + rng.integers(0, draw(st.integers(1, 200)), size=n).astype(np.int64) * MIN
    embargo = draw(st.sampled_from([0, 5 * MIN, 17 * MIN, 60 * MIN]))
    return ts, t1, embargo


def spans(ts, t1, test_idx):
    """[min t, max t1] of each run of consecutive test indices."""
    runs = np.split(test_idx, np.flatnonzero(np.diff(test_idx) != 1) + 1)
    return [(ts[r[0]], t1[r].max()) for r in runs if r.size]


def brute_force_train(ts, t1, candidates, test_spans, embargo):
    keep = []
    for i in candidates:
        overlaps = any(t1[i] >= s and ts[i] <= e for s, e in test_spans)
        embargoed = any(e < ts[i] <= e + embargo for s, e in test_spans)
        if not (overlaps or embargoed):
            keep.append(i)
    return np.array(keep, dtype=np.int64)


def assert_leak_free(ts, t1, fold, embargo, test_spans=None):
    test_spans = test_spans if test_spans is not None else spans(ts, t1, fold.test_idx)
    tr = fold.train_idx
    assert np.intersect1d(tr, fold.test_idx).size == 0
    for s, e in test_spans:
        assert not np.any((t1[tr] >= s) & (ts[tr] <= e)), "a training label window overlaps a test block"
        assert not np.any((ts[tr] > e) & (ts[tr] <= e + embargo)), "a training row sits in the embargo"


@settings(max_examples=150, deadline=None)
@given(data=label_windows(), n_splits=st.integers(2, 6))
def test_purged_kfold(data, n_splits):
    ts, t1, embargo = data
    folds = purged_kfold(ts, t1, n_splits, embargo)
    assert len(folds) == n_splits
    all_test = np.concatenate([f.test_idx for f in folds])
    np.testing.assert_array_equal(np.sort(all_test), np.arange(ts.size))  # each row tested exactly once
    for f in folds:
        assert_leak_free(ts, t1, f, embargo)
        others = np.setdiff1d(np.arange(ts.size), f.test_idx)
        np.testing.assert_array_equal(
            f.train_idx, brute_force_train(ts, t1, others, spans(ts, t1, f.test_idx), embargo)
        )
        assert f.n_purged + f.n_embargoed + f.train_idx.size == others.size


@settings(max_examples=100, deadline=None)
@given(data=label_windows(), n_splits=st.integers(1, 5), rolling=st.integers(0, 3))
def test_walk_forward_trains_on_the_past_only(data, n_splits, rolling):
    ts, t1, embargo = data
    if rolling:
        folds = walk_forward(ts, t1, n_splits, mode="rolling", train_blocks=rolling, embargo_ns=embargo)
    else:
        folds = walk_forward(ts, t1, n_splits, mode="expanding", embargo_ns=embargo)
    assert len(folds) == n_splits
    for f in folds:
        assert_leak_free(ts, t1, f, embargo)
        if f.train_idx.size:
            assert ts[f.train_idx].max() < ts[f.test_idx].min()
            assert t1[f.train_idx].max() < ts[f.test_idx].min()


@settings(max_examples=100, deadline=None)
@given(data=label_windows(min_rows=20), n_groups=st.integers(3, 7), k=st.integers(1, 3))
def test_cpcv_purges_each_test_group_and_counts_paths(data, n_groups, k):
    ts, t1, embargo = data
    k = min(k, n_groups - 1)
    cv = combinatorial_purged_cv(ts, t1, n_groups, k, embargo)
    assert len(cv.folds) == comb(n_groups, k)
    assert cv.n_paths == comb(n_groups - 1, k - 1) == k * comb(n_groups, k) // n_groups
    for f, chosen in zip(cv.folds, cv.test_groups, strict=True):
        group_spans = [(ts[cv.groups[g][0]], t1[cv.groups[g][0] : cv.groups[g][1]].max()) for g in chosen]
        assert_leak_free(ts, t1, f, embargo, group_spans)
        others = np.setdiff1d(np.arange(ts.size), f.test_idx)
        np.testing.assert_array_equal(f.train_idx, brute_force_train(ts, t1, others, group_spans, embargo))
    # every path predicts every group exactly once, with a fold that tests that group
    for path in cv.paths:
        for g, fold_id in enumerate(path):
            assert g in cv.test_groups[fold_id]
    for g in range(n_groups):
        assert len(set(cv.paths[:, g])) == cv.n_paths


@settings(max_examples=100, deadline=None)
@given(data=label_windows(min_rows=30), n_splits=st.integers(2, 5), frac=st.floats(0.05, 0.5))
def test_inner_validation_slice_is_later_and_purged(data, n_splits, frac):
    ts, t1, embargo = data
    fold = purged_kfold(ts, t1, n_splits, embargo)[0]
    if fold.train_idx.size < 3:
        return
    try:
        inner_train, inner_val = inner_validation_split(fold.train_idx, ts, t1, frac, embargo)
    except DataError as exc:  # long windows can purge everything: that must be an explicit error
        assert "purge removed every training row" in str(exc)
        return
    assert np.isin(inner_val, fold.train_idx).all() and np.isin(inner_train, fold.train_idx).all()
    assert ts[inner_val].min() > ts[inner_train].max()
    for s, e in spans(ts, t1, inner_val):
        assert not np.any((t1[inner_train] >= s) & (ts[inner_train] <= e))
        assert not np.any((ts[inner_train] > e) & (ts[inner_train] <= e + embargo))


@settings(max_examples=150, deadline=None)
@given(data=label_windows(min_rows=40, max_rows=300))
def test_train_val_test_purge_and_embargo(data):
    ts, t1, embargo = data
    try:
        split = train_val_test_split(ts, t1, embargo_ns=embargo)
    except DataError as exc:  # a split emptied by purge/embargo must say so, never pass silently
        assert "no rows left" in str(exc)
        return
    b = split.boundaries
    v, t = b["val_start_ns"], b["test_start_ns"]
    assert not (split.train & split.val).any() and not (split.val & split.test).any()
    assert t1[split.train].max() < v and ts[split.train].max() < v
    assert t1[split.val].max() < t and ts[split.val].min() >= v + embargo
    assert ts[split.test].min() >= t + embargo
    n_removed = sum(b["purged"].values()) + sum(b["embargoed"].values())
    assert split.train.sum() + split.val.sum() + split.test.sum() + n_removed == ts.size
