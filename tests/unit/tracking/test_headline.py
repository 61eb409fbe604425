"""Headline keys beside the flattened metrics: log loss vs prior, Sharpe with its interval, DSR, PBO, coverage."""

from __future__ import annotations

import pytest

from mlfactory.tracking.headline import headline_metrics, is_headline


def test_log_loss_against_the_prior() -> None:
    h = headline_metrics(
        {"classification.test.model.log_loss": 1.0, "classification.test.prior.log_loss": 1.1}
    )
    assert h["test_log_loss"] == 1.0 and h["test_prior_log_loss"] == 1.1
    assert h["test_log_loss_vs_prior"] == pytest.approx(-0.1)


def test_sharpe_comes_with_whatever_interval_the_metrics_carry() -> None:
    flat = {
        "trading.val.strategy.sharpe": 1.2,
        "trading.val.strategy.sharpe_se": 0.4,
        "trading.val.strategy.sharpe_ci.low": 0.3,
        "trading.val.strategy.sharpe_ci.high": 2.0,
        "trading.val.strategy.sortino": 9.0,
    }
    h = headline_metrics(flat)
    assert {k: h[k] for k in h if "sharpe" in k} == {
        "val_sharpe": 1.2,
        "val_sharpe_se": 0.4,
        "val_sharpe_ci.low": 0.3,
        "val_sharpe_ci.high": 2.0,
    }
    assert "val_sortino" not in h


@pytest.mark.parametrize(
    ("flat", "expected"),
    [
        ({"overfitting.dsr": 0.7, "overfitting.pbo.pbo": 0.2}, {"dsr": 0.7, "pbo": 0.2}),
        ({"overfitting.deflated_sharpe.dsr": 0.6, "overfitting.pbo": 0.4}, {"dsr": 0.6, "pbo": 0.4}),
        ({"coverage.fraction": 0.9}, {"coverage": 0.9}),
    ],
)
def test_dsr_pbo_and_coverage_wherever_they_sit(flat: dict, expected: dict) -> None:
    assert headline_metrics(flat) == expected


def test_a_key_already_present_is_never_overwritten() -> None:
    assert "coverage" not in headline_metrics({"coverage": 0.5})
    assert headline_metrics({}) == {}


def test_is_headline() -> None:
    assert is_headline("test_log_loss") and is_headline("pbo") and is_headline("val_sharpe_ci.low")
    assert not is_headline("classification.test.model.log_loss") and not is_headline("seed")
