"""Classification metrics against scikit-learn (the oracle), absent classes, and the baselines."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    log_loss,
    precision_recall_fscore_support,
)

from mlfactory.errors import DataError
from mlfactory.evaluation.classification_metrics import (
    class_frequencies,
    classification_metrics,
    classification_report,
)


def _random_case(seed: int, n: int = 300):
    rng = np.random.default_rng(seed)
    y = rng.choice([-1, 0, 1], size=n, p=[0.3, 0.4, 0.3])
    proba = rng.dirichlet(np.ones(3), size=n)
    return y, proba


def test_matches_sklearn_when_all_classes_present():
    y, proba = _random_case(0)
    w = np.random.default_rng(1).uniform(0.5, 2.0, size=y.shape[0])
    pred = np.array([-1, 0, 1])[proba.argmax(axis=1)]
    for weight in (None, w):
        m = classification_metrics(y, proba, sample_weight=weight)
        assert m["accuracy"] == pytest.approx(accuracy_score(y, pred, sample_weight=weight))
        assert m["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, pred, sample_weight=weight))
        assert m["macro_f1"] == pytest.approx(f1_score(y, pred, average="macro", sample_weight=weight))
        assert m["log_loss"] == pytest.approx(log_loss(y, proba, labels=[-1, 0, 1], sample_weight=weight))
        prec, rec, _, _ = precision_recall_fscore_support(y, pred, labels=[-1, 0, 1], sample_weight=weight)
        got = m["per_class"]
        np.testing.assert_allclose([got[c]["precision"] for c in ("short", "neutral", "long")], prec)
        np.testing.assert_allclose([got[c]["recall"] for c in ("short", "neutral", "long")], rec)
        np.testing.assert_allclose(
            m["confusion_matrix"], confusion_matrix(y, pred, labels=[-1, 0, 1], sample_weight=weight)
        )
    onehot = (y[:, None] == np.array([-1, 0, 1])).astype(float)
    assert classification_metrics(y, proba)["brier"] == pytest.approx(
        ((proba - onehot) ** 2).sum(axis=1).mean()
    )


def test_hand_example():
    y = np.array([1, -1, 0, 1])
    proba = np.array([[0.1, 0.2, 0.7], [0.5, 0.4, 0.1], [0.6, 0.3, 0.1], [0.2, 0.5, 0.3]])
    m = classification_metrics(y, proba)  # predictions: 1, -1, -1, 0
    assert m["accuracy"] == 0.5
    assert m["confusion_matrix"] == [[1, 0, 0], [1, 0, 0], [0, 1, 1]]
    assert m["per_class"]["short"]["precision"] == 0.5 and m["per_class"]["long"]["recall"] == 0.5
    assert m["balanced_accuracy"] == pytest.approx((1 + 0 + 0.5) / 3)
    assert m["log_loss"] == pytest.approx(
        -(math.log(0.7) + math.log(0.5) + math.log(0.3) + math.log(0.3)) / 4
    )
    brier = ((0.01 + 0.04 + 0.09) + (0.25 + 0.16 + 0.01) + (0.36 + 0.49 + 0.01) + (0.04 + 0.25 + 0.49)) / 4
    assert m["brier"] == pytest.approx(brier)


def test_absent_classes_are_explicit():
    y = np.array([-1, -1, 0, 0, 0])  # no long label
    proba = np.array([[0.7, 0.2, 0.1], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1], [0.1, 0.8, 0.1], [0.8, 0.1, 0.1]])
    m = classification_metrics(y, proba)  # predictions: -1, 0, 0, 0, -1; long never predicted nor true
    assert math.isnan(m["per_class"]["long"]["precision"]) and math.isnan(m["per_class"]["long"]["recall"])
    assert m["per_class"]["long"]["support"] == 0
    assert m["balanced_accuracy"] == pytest.approx((0.5 + 2 / 3) / 2)  # over the classes in y_true
    assert m["macro_f1"] == pytest.approx(f1_score(y, proba.argmax(axis=1) - 1, average="macro"))
    assert m["confusion_matrix"][2] == [0, 0, 0]
    assert np.isfinite(m["log_loss"]) and np.isfinite(m["brier"])


def test_baselines_use_train_frequencies():
    y, proba = _random_case(3)
    train = np.array([-1] * 20 + [0] * 50 + [1] * 30)
    freq = class_frequencies(train)
    np.testing.assert_allclose(freq, [0.2, 0.5, 0.3])
    rep = classification_report(y, proba, train_class_frequencies=np.array([20, 50, 30]))
    assert set(rep) == {"model", "majority", "prior"}
    assert rep["majority"]["accuracy"] == pytest.approx((y == 0).mean())  # always neutral
    assert rep["prior"]["accuracy"] == pytest.approx((y == 0).mean())
    assert rep["prior"]["log_loss"] == pytest.approx(
        log_loss(y, np.tile(freq, (y.shape[0], 1)), labels=[-1, 0, 1])
    )
    assert rep["majority"]["log_loss"] > rep["prior"]["log_loss"]  # certainty is punished


def test_bad_inputs():
    y, proba = _random_case(4, n=10)
    with pytest.raises(DataError, match="y_true"):
        classification_metrics(np.array([2] * 10), proba)
    with pytest.raises(DataError, match="rows"):
        classification_metrics(y[:5], proba)
    with pytest.raises(DataError, match="sample_weight"):
        classification_metrics(y, proba, sample_weight=-np.ones(10))
    with pytest.raises(DataError, match="train_class_frequencies"):
        classification_report(y, proba, train_class_frequencies=np.array([1.0, 0.0]))
