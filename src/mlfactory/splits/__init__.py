"""Leak-free splits on timestamps: train/val/test, PurgedKFold, walk-forward, CPCV."""

from mlfactory.splits.cpcv import CPCVSplits, combinatorial_purged_cv
from mlfactory.splits.folds import (
    Fold,
    folds_from_json,
    folds_to_json,
    inner_validation_split,
    purge_and_embargo,
)
from mlfactory.splits.purged_kfold import purged_kfold
from mlfactory.splits.train_val_test import TrainValTestSplit, apply_split_boundaries, train_val_test_split
from mlfactory.splits.walk_forward import walk_forward

__all__ = [
    "CPCVSplits",
    "Fold",
    "TrainValTestSplit",
    "apply_split_boundaries",
    "combinatorial_purged_cv",
    "folds_from_json",
    "folds_to_json",
    "inner_validation_split",
    "purge_and_embargo",
    "purged_kfold",
    "train_val_test_split",
    "walk_forward",
]
