"""Classification metrics of 3-class probabilities (labels -1, 0, 1), computed with scikit-learn.

The predicted label is the argmax of ``[p_short, p_neutral, p_long]`` (ties: the first column, as
scikit-learn does). Every metric is computed with ``labels=[-1, 0, 1]`` where scikit-learn takes
it; classes missing from the evaluated rows are handled explicitly:

- per-class precision is NaN for a class never predicted, recall NaN for a class absent from
  ``y_true`` (``support`` says which);
- balanced accuracy is the mean recall over the classes present in ``y_true``;
- macro F1 averages over the classes present in ``y_true`` or predicted (a class that is neither
  has no defined F1);
- log loss and the multi-class Brier score (sum over the 3 classes of the squared error, range
  [0, 2]) always use all three columns.

Two baselines use the training class frequencies: ``majority`` (always the most frequent training
class, with probability 1) and ``prior`` (the training frequencies as probabilities on every row).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    confusion_matrix,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
)

from mlfactory.errors import DataError
from mlfactory.evaluation.positions import CLASSES, check_probabilities

LABELS = [-1, 0, 1]
CLASS_NAMES = {-1: "short", 0: "neutral", 1: "long"}


def classification_report(
    y_true: np.ndarray,
    proba: np.ndarray,
    *,
    train_class_frequencies: np.ndarray,
    sample_weight: np.ndarray | None = None,
) -> dict[str, Any]:
    """Metrics of ``proba`` against ``y_true`` plus the majority-class and prior baselines.

    ``train_class_frequencies``: counts or frequencies of classes (-1, 0, 1) in the training rows
    (normalised here). Returns ``{"model": {...}, "majority": {...}, "prior": {...}}``.
    """
    y = _check_labels(y_true)
    p = check_probabilities(proba)
    if p.shape[0] != y.shape[0]:
        raise DataError(f"proba: {p.shape[0]} rows but y_true has {y.shape[0]}")
    w = _check_weights(sample_weight, y.shape[0])
    prior = _check_prior(train_class_frequencies)
    majority = np.zeros_like(p)
    majority[:, int(np.argmax(prior))] = 1.0
    return {
        "model": classification_metrics(y, p, sample_weight=w),
        "majority": classification_metrics(y, majority, sample_weight=w),
        "prior": classification_metrics(y, np.tile(prior, (y.shape[0], 1)), sample_weight=w),
    }


def classification_metrics(
    y_true: np.ndarray, proba: np.ndarray, *, sample_weight: np.ndarray | None = None
) -> dict[str, Any]:
    """Accuracy, balanced accuracy, macro F1, log loss, Brier, per-class precision/recall, confusion matrix."""
    y = _check_labels(y_true)
    p = check_probabilities(proba)
    if p.shape[0] != y.shape[0]:
        raise DataError(f"proba: {p.shape[0]} rows but y_true has {y.shape[0]}")
    w = _check_weights(sample_weight, y.shape[0])
    pred = CLASSES[np.argmax(p, axis=1)].astype(np.int64)
    in_truth = [c for c in LABELS if (y == c).any()]
    in_either = [c for c in LABELS if (y == c).any() or (pred == c).any()]
    precision = precision_score(y, pred, labels=LABELS, average=None, sample_weight=w, zero_division=np.nan)
    recall = recall_score(y, pred, labels=LABELS, average=None, sample_weight=w, zero_division=np.nan)
    support = np.array([(y == c).sum() for c in LABELS])
    return {
        "n": int(y.shape[0]),
        "accuracy": float(accuracy_score(y, pred, sample_weight=w)),
        "balanced_accuracy": float(
            recall_score(y, pred, labels=in_truth, average="macro", sample_weight=w, zero_division=0)
        ),
        "macro_f1": float(
            f1_score(y, pred, labels=in_either, average="macro", sample_weight=w, zero_division=0)
        ),
        "log_loss": float(log_loss(y, p, labels=LABELS, sample_weight=w)),
        "brier": float(brier_score_loss(y, p, labels=LABELS, sample_weight=w, scale_by_half=False)),
        "per_class": {
            CLASS_NAMES[c]: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "support": int(support[i]),
            }
            for i, c in enumerate(LABELS)
        },
        "confusion_matrix": confusion_matrix(y, pred, labels=LABELS, sample_weight=w).tolist(),
    }


def class_frequencies(y: np.ndarray) -> np.ndarray:
    """Frequencies of classes (-1, 0, 1) in a label array (e.g. the training labels)."""
    labels = _check_labels(y)
    return np.array([(labels == c).mean() for c in LABELS])


def _check_labels(y_true: np.ndarray) -> np.ndarray:
    y = np.asarray(y_true)
    if y.ndim != 1 or y.shape[0] == 0:
        raise DataError(f"y_true: expected a non-empty 1-D array of labels, got shape {y.shape}")
    if not np.isin(y, LABELS).all():
        bad = y[~np.isin(y, LABELS)][0]
        raise DataError(f"y_true: labels must be -1, 0 or 1, found {bad!r}")
    return y.astype(np.int64)


def _check_weights(sample_weight: np.ndarray | None, n: int) -> np.ndarray | None:
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.shape != (n,) or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise DataError(f"sample_weight: expected {n} finite non-negative weights with a positive sum")
    return w


def _check_prior(freq: np.ndarray) -> np.ndarray:
    f = np.asarray(freq, dtype=np.float64)
    if f.shape != (3,) or not np.isfinite(f).all() or (f < 0).any() or f.sum() <= 0:
        raise DataError(
            "train_class_frequencies: expected 3 non-negative counts or frequencies for classes (-1, 0, 1), "
            f"got {f.tolist()}"
        )
    return f / f.sum()
