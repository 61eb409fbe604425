"""Robust scaler: scikit-learn as oracle, train-only statistics, zero IQR, NaN and persistence."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.preprocessing import RobustScaler as SkRobustScaler

from mlfactory.errors import ArtifactError, DataError
from mlfactory.splits.scaler import RobustScaler


def data(seed=0, n=500, k=4):
    rng = np.random.default_rng(seed)
    X = rng.standard_t(3, size=(n, k)) * np.array([1.0, 10.0, 0.01, 3.0]) + np.array([0.0, 5.0, -2.0, 1.0])
    X[rng.random(X.shape) < 0.05] = np.nan
    train = np.zeros(n, dtype=bool)
    train[: int(0.7 * n)] = True
    return X, train


def test_matches_sklearn_fitted_on_the_training_rows():
    X, train = data()
    ours = RobustScaler().fit(X, train)
    sk = SkRobustScaler().fit(X[train])
    np.testing.assert_allclose(ours.center_, sk.center_, rtol=1e-12)
    np.testing.assert_allclose(ours.scale_, sk.scale_, rtol=1e-12)
    np.testing.assert_allclose(ours.transform(X), sk.transform(X), rtol=1e-10, equal_nan=True)


def test_non_training_rows_do_not_move_the_statistics():
    X, train = data()
    a = RobustScaler().fit(X, train)
    X2 = X.copy()
    X2[~train] = 1e6 * np.random.default_rng(1).standard_normal(X2[~train].shape)
    X2[np.flatnonzero(~train), 0] = np.inf  # only training rows are read, so this is fine
    b = RobustScaler().fit(X2, train)
    np.testing.assert_array_equal(a.center_, b.center_)
    np.testing.assert_array_equal(a.scale_, b.scale_)


def test_zero_iqr_column_is_centred_only_and_reported():
    X, train = data()
    X[:, 2] = 7.0
    X[~train, 2] = 9.0
    s = RobustScaler(columns=["a", "b", "flat", "d"]).fit(X, train)
    assert s.zero_iqr_columns == ["flat"]
    assert s.scale_[2] == 1.0
    np.testing.assert_array_equal(s.transform(X)[:, 2], np.where(train, 0.0, 2.0))


def test_json_round_trip_and_dtype():
    X, train = data()
    s = RobustScaler(columns=list("abcd")).fit(X, train)
    back = RobustScaler.from_json(s.to_json())
    np.testing.assert_array_equal(back.transform(X), s.transform(X))
    assert back.columns == list("abcd") and back.n_train_rows_ == train.sum()
    assert s.transform(X.astype(np.float32)).dtype == np.float32
    with pytest.raises(ArtifactError, match="robust scaler JSON"):
        RobustScaler.from_json('{"kind": "robust_scaler", "center": [0.0]}')


def test_bad_inputs():
    X, train = data()
    with pytest.raises(DataError, match="not fitted"):
        RobustScaler().transform(X)
    X_nan = X.copy()
    X_nan[train, 1] = np.nan
    with pytest.raises(DataError, match="column 'b' has no finite value"):
        RobustScaler(columns=list("abcd")).fit(X_nan, train)
    X_inf = X.copy()
    X_inf[0, 3] = np.inf
    with pytest.raises(DataError, match="column 3 has infinite values"):
        RobustScaler().fit(X_inf, train)
    with pytest.raises(DataError, match="train_mask"):
        RobustScaler().fit(X, train.astype(int))
    s = RobustScaler().fit(X, train)
    with pytest.raises(DataError, match="fitted on 4 columns"):
        s.transform(X[:, :3])
