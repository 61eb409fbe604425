"""Information coefficient against scipy's Spearman, ICIR over days, traded-side precision."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import spearmanr

from mlfactory.errors import ConfigError, DataError
from mlfactory.evaluation.signal_metrics import (
    daily_information_coefficients,
    information_coefficient,
    information_coefficient_report,
    traded_side_precision,
)

NS_DAY = 86_400 * 10**9


def _case(seed: int, n_days: int = 6, per_day: int = 40):
    rng = np.random.default_rng(seed)
    n = n_days * per_day
    ts = (
        1_700_006_400 * 10**9
        + np.repeat(np.arange(n_days), per_day) * NS_DAY
        + np.tile(np.arange(per_day), n_days) * 300 * 10**9
    )
    proba = rng.dirichlet(np.ones(3), size=n)
    score = proba[:, 2] - proba[:, 0]
    fwd = 0.3 * score + rng.normal(0, 0.5, n)
    fwd[::7] = 0.0  # ties in the returns
    return ts, proba, fwd, score


def test_ic_matches_scipy_spearman():
    _, proba, fwd, score = _case(0)
    assert information_coefficient(proba, fwd) == pytest.approx(spearmanr(score, fwd).statistic)


def test_daily_ic_and_icir_match_a_per_day_loop():
    ts, proba, fwd, score = _case(1)
    day = ts // NS_DAY
    ref = [spearmanr(score[day == d], fwd[day == d]).statistic for d in np.unique(day)]
    daily = daily_information_coefficients(ts, proba, fwd)
    np.testing.assert_allclose(daily["ic"].to_numpy(), ref)
    assert (daily["n_obs"].to_numpy() == 40).all()
    rep = information_coefficient_report(ts, proba, fwd)
    assert rep["n_days"] == 6
    assert rep["mean_daily_ic"] == pytest.approx(np.mean(ref))
    assert rep["icir"] == pytest.approx(np.mean(ref) / np.std(ref, ddof=1))
    assert rep["ic_tstat"] == pytest.approx(rep["icir"] * math.sqrt(6))
    assert rep["ic"] > 0.2  # planted signal


def test_days_with_too_few_or_constant_observations_are_skipped():
    ts, proba, fwd, _ = _case(2, n_days=3)
    day = ts // NS_DAY
    fwd[day == day[0]] = 0.0  # constant returns on day 1: no rank correlation
    keep = np.ones(ts.shape[0], bool)
    keep[np.flatnonzero(day == day[-1])[3:]] = False  # day 3 keeps only 3 decisions
    daily = daily_information_coefficients(ts[keep], proba[keep], fwd[keep], min_obs=5)
    assert daily.height == 1
    one_day = information_coefficient_report(ts[keep], proba[keep], fwd[keep], min_obs=5)
    assert one_day["n_days"] == 1 and math.isnan(one_day["icir"])


def test_custom_day_labels():
    ts, proba, fwd, _ = _case(3)
    halves = np.where(np.arange(ts.shape[0]) < 120, "first", "second")
    assert daily_information_coefficients(ts, proba, fwd, days=halves).height == 2


def test_traded_side_precision_by_hand():
    pos = np.array([1.0, 0.5, -1.0, 0.0, -0.3, 1.0])
    y = np.array([1, 0, -1, 1, 1, 1])
    out = traded_side_precision(pos, y)
    assert out["long"] == {"count": 3, "precision": pytest.approx(2 / 3)}
    assert out["short"] == {"count": 2, "precision": pytest.approx(1 / 2)}
    assert out["traded"] == {"count": 5, "precision": pytest.approx(3 / 5)}
    assert math.isnan(traded_side_precision(np.zeros(3), np.zeros(3, int))["long"]["precision"])


def test_bad_inputs():
    ts, proba, fwd, _ = _case(4)
    with pytest.raises(DataError, match="forward_returns"):
        information_coefficient(proba, fwd[:-1])
    bad = fwd.copy()
    bad[0] = np.nan
    with pytest.raises(DataError, match="forward_returns"):
        information_coefficient(proba, bad)
    with pytest.raises(ConfigError, match="min_obs"):
        daily_information_coefficients(ts, proba, fwd, min_obs=2)
    with pytest.raises(DataError, match="y_true"):
        traded_side_precision(np.ones(2), np.array([2, 1]))
