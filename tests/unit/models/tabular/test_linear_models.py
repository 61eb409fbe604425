"""Logistic regression and the SVM: scaling on training rows only, and the SVM's calibration."""

from __future__ import annotations

import numpy as np
import pytest
from tabular_synth import planted_dataset

from mlfactory.adapters.views import TabularView
from mlfactory.models.base import Dataset
from mlfactory.models.registry import get_model_class


def _shifted(ds: Dataset, shift: float) -> Dataset:
    view = TabularView(ds.x.x + np.float32(shift), ds.timestamps, ds.x.feature_names)
    return Dataset(view, ds.y, ds.sample_weight)


@pytest.mark.parametrize("name", ["logistic", "svm"])
def test_scaler_is_fitted_on_training_rows_only(name, planted):
    train, val, _ = planted
    model = get_model_class(name)({}, seed=0).fit(train, _shifted(val, 5.0))
    pipeline = model.estimator_ if name == "logistic" else model.svm_
    scaler = pipeline.steps[0][1]
    np.testing.assert_allclose(scaler.mean_, train.x.x.astype(np.float64).mean(axis=0), rtol=1e-5, atol=1e-6)


def test_svm_calibrates_on_validation_when_given(planted):
    train, val, _ = planted
    assert get_model_class("svm")({}, seed=0).fit(train, val).calibrated_on_ == "val"
    assert get_model_class("svm")({}, seed=0).fit(train).calibrated_on_ == "train"


def test_svm_calibrator_learns_from_validation_rows(planted):
    """Same SVM, different calibration rows → different probabilities (the val slice is really used)."""
    train, val, test = planted
    ds = planted_dataset(n=400, seed=11)
    other_val = Dataset(ds.x, np.roll(ds.y, 7), ds.sample_weight)  # labels scrambled w.r.t. features
    p_val = get_model_class("svm")({}, seed=0).fit(train, val).predict_proba(test.x)
    p_noise = get_model_class("svm")({}, seed=0).fit(train, other_val).predict_proba(test.x)
    # calibrated on scrambled labels, the probabilities flatten towards the priors
    assert p_noise.max(axis=1).mean() < p_val.max(axis=1).mean() - 0.1


@pytest.mark.parametrize("kernel", ["linear", "rbf"])
def test_svm_kernels_learn_the_planted_pattern(kernel, planted):
    train, val, test = planted
    p = (
        get_model_class("svm")({"kernel": kernel, "n_components": 64}, seed=0)
        .fit(train, val)
        .predict_proba(test.x)
    )
    assert (p.argmax(axis=1) - 1 == test.y).mean() > 0.6
