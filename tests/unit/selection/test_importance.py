"""MDI, MDA, SFI: planted informative features rank above noise; MDA matches a slow sklearn reference."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

from mlfactory.errors import ConfigError, DataError
from mlfactory.selection import mda_importance, mdi_importance, sfi_importance
from mlfactory.selection._common import neg_log_loss
from mlfactory.splits import purged_kfold


def _logistic():
    return LogisticRegression(max_iter=500)


def test_mdi_ranks_planted_features_first(data):
    imp = mdi_importance(data.X, data.y, data.names, sample_weight=data.w, n_estimators=60, seed=1)
    assert set(imp.ranking()[:3]) == set(data.informative)
    assert imp.mean.sum() == pytest.approx(1.0)
    assert (imp.std >= 0).all()
    assert imp.ranks()[: len(data.informative)].max() == len(data.informative)
    again = mdi_importance(data.X, data.y, data.names, sample_weight=data.w, n_estimators=60, seed=1)
    np.testing.assert_array_equal(imp.mean, again.mean)


def test_mdi_extra_trees_and_bootstrap_fraction(data):
    imp = mdi_importance(
        data.X, data.y, data.names, n_estimators=60, estimator="extra_trees", max_samples=0.5
    )
    assert set(imp.ranking()[:3]) == set(data.informative)
    with pytest.raises(ConfigError, match="estimator"):
        mdi_importance(data.X, data.y, data.names, estimator="gbm")
    with pytest.raises(ConfigError, match="max_samples"):
        mdi_importance(data.X, data.y, data.names, max_samples=1.5)


def test_mda_ranks_planted_features_first(data):
    imp = mda_importance(
        data.X, data.y, data.names, ts=data.ts, t1=data.t1, n_splits=3, embargo_ns=0,
        sample_weight=data.w, seed=2,
    )  # fmt: skip
    assert set(imp.ranking()[:3]) == set(data.informative)
    informative = imp.mean[:3]
    noise = imp.mean[3:]
    assert informative.min() > 0.05
    assert np.abs(noise).max() < informative.min() / 3


def test_sfi_ranks_planted_features_first(data):
    imp = sfi_importance(
        data.X, data.y, data.names, ts=data.ts, t1=data.t1, n_splits=3, embargo_ns=0, classifier=_logistic
    )
    assert set(imp.ranking()[:3]) == set(data.informative)
    assert (imp.mean < 0).all()  # neg log loss


def _reference_mda(X, y, w, ts, t1, n_splits, seed):
    """Slow AFML snippet 8.3 with sklearn's log_loss; same permutation order as the implementation."""
    rng = np.random.default_rng(seed)
    folds = purged_kfold(ts, t1, n_splits=n_splits, embargo_ns=0)
    out = np.zeros((len(folds), X.shape[1]))
    for i, f in enumerate(folds):
        clf = _logistic().fit(X[f.train_idx], y[f.train_idx], sample_weight=w[f.train_idx])
        xt, yt, wt = X[f.test_idx], y[f.test_idx], w[f.test_idx]
        s0 = -log_loss(yt, clf.predict_proba(xt), sample_weight=wt, labels=clf.classes_)
        for j in range(X.shape[1]):
            xp = xt.copy()
            xp[:, j] = xt[rng.permutation(len(xt)), j]
            s1 = -log_loss(yt, clf.predict_proba(xp), sample_weight=wt, labels=clf.classes_)
            out[i, j] = (s0 - s1) / -s1
    return out.mean(axis=0), out.std(axis=0, ddof=1) / np.sqrt(len(folds))


def test_mda_matches_slow_reference(make_planted):
    d = make_planted(n=300, n_informative=2, n_noise=3, seed=5)
    d.X = d.X.astype(np.float64)  # sklearn's log_loss clips at the probabilities' dtype eps
    imp = mda_importance(
        d.X, d.y, d.names, ts=d.ts, t1=d.t1, n_splits=3, sample_weight=d.w, classifier=_logistic, seed=9
    )
    mean, se = _reference_mda(d.X, d.y, d.w, d.ts, d.t1, 3, 9)
    np.testing.assert_allclose(imp.mean, mean, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(imp.std, se, rtol=1e-9, atol=1e-12)


def test_neg_log_loss_matches_sklearn(make_planted):
    rng = np.random.default_rng(0)
    y = rng.choice([-1, 0, 1], 50).astype(np.int8)
    p = rng.dirichlet([1, 1, 1], 50)
    w = rng.uniform(0, 2, 50)
    assert neg_log_loss(y, p, w) == pytest.approx(-log_loss(y, p, sample_weight=w, labels=[-1, 0, 1]))
    assert neg_log_loss(y, p, None) == pytest.approx(-log_loss(y, p, labels=[-1, 0, 1]))


def test_bad_inputs_name_the_field(data):
    X = data.X.copy()
    X[10, 4] = np.nan
    with pytest.raises(DataError, match="noise_1"):
        mdi_importance(X, data.y, data.names)
    with pytest.raises(DataError, match="feature_names"):
        mdi_importance(data.X, data.y, data.names[:-1])
    with pytest.raises(DataError, match="duplicated"):
        mdi_importance(data.X, data.y, ["a"] * len(data.names))
    with pytest.raises(DataError, match="labels"):
        mdi_importance(data.X, data.y * 2, data.names)
    with pytest.raises(DataError, match="float"):
        mdi_importance(data.X.astype(np.int64), data.y, data.names)
    with pytest.raises(DataError, match="sample_weight"):
        mdi_importance(data.X, data.y, data.names, sample_weight=-data.w)
    with pytest.raises(DataError, match="ts"):
        mda_importance(data.X, data.y, data.names, ts=data.ts[:-1], t1=data.t1[:-1])
    with pytest.raises(DataError, match="t1"):
        sfi_importance(data.X, data.y, data.names, ts=data.ts, t1=data.ts - 1)
