"""Volatility estimators: per-bar formulas against loops, and recovery of a known simulated sigma."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlfactory.errors import DataError
from mlfactory.features.kernels.volatility_estimators import (
    garman_klass_volatility,
    parkinson_volatility,
    realised_volatility,
    rogers_satchell_volatility,
    yang_zhang_volatility,
)

W = 9


def _reference(bars, per_bar, window, first=0):
    """sqrt(mean over the window) of a per-bar term computed with math.log."""
    n = len(bars["close"])
    terms = [per_bar(bars, t) if t >= first else math.nan for t in range(n)]
    out = np.full(n, np.nan)
    for i in range(window - 1, n):
        win = terms[i - window + 1 : i + 1]
        if not any(math.isnan(v) for v in win):
            out[i] = math.sqrt(sum(win) / window)
    return out


def _parkinson(b, t):
    return math.log(b["high"][t] / b["low"][t]) ** 2 / (4 * math.log(2))


def _garman_klass(b, t):
    hl = math.log(b["high"][t] / b["low"][t])
    co = math.log(b["close"][t] / b["open"][t])
    return 0.5 * hl * hl - (2 * math.log(2) - 1) * co * co


def _rogers_satchell(b, t):
    o, h, lo, c = (b[k][t] for k in ("open", "high", "low", "close"))
    return math.log(h / c) * math.log(h / o) + math.log(lo / c) * math.log(lo / o)


def _yang_zhang(b, window):
    n = len(b["close"])
    out = np.full(n, np.nan)
    k = 0.34 / (1.34 + (window + 1) / (window - 1))
    for i in range(window, n):
        ts = range(i - window + 1, i + 1)
        gap = [math.log(b["open"][t] / b["close"][t - 1]) for t in ts]
        body = [math.log(b["close"][t] / b["open"][t]) for t in ts]
        rs = [_rogers_satchell(b, t) for t in ts]
        out[i] = math.sqrt(np.var(gap, ddof=1) + k * np.var(body, ddof=1) + (1 - k) * np.mean(rs))
    return out


def _realised(b, window):
    r = [math.nan] + [math.log(b["close"][t] / b["close"][t - 1]) for t in range(1, len(b["close"]))]
    out = np.full(len(r), np.nan)
    for i in range(window, len(r)):
        out[i] = np.std(r[i - window + 1 : i + 1], ddof=1)
    return out


def test_estimators_match_per_bar_references(make_bars):
    b = make_bars(200, seed=21)
    ohlc = (b["open"], b["high"], b["low"], b["close"])
    np.testing.assert_allclose(
        parkinson_volatility(b["high"], b["low"], W), _reference(b, _parkinson, W), rtol=1e-10
    )
    np.testing.assert_allclose(garman_klass_volatility(*ohlc, W), _reference(b, _garman_klass, W), rtol=1e-10)
    np.testing.assert_allclose(
        rogers_satchell_volatility(*ohlc, W), _reference(b, _rogers_satchell, W), rtol=1e-10
    )
    np.testing.assert_allclose(yang_zhang_volatility(*ohlc, W), _yang_zhang(b, W), rtol=1e-10)
    np.testing.assert_allclose(realised_volatility(b["close"], W), _realised(b, W), rtol=1e-10)


def _brownian_bars(n_bars: int, steps: int, sigma_bar: float, drift_bar: float, seed: int):
    """OHLC of a log-Brownian path sampled ``steps`` times per bar; open = previous close."""
    rng = np.random.default_rng(seed)
    inc = rng.normal(drift_bar / steps, sigma_bar / math.sqrt(steps), (n_bars, steps))
    path = math.log(100.0) + np.cumsum(inc.ravel()).reshape(n_bars, steps)
    opens = np.r_[math.log(100.0), path[:-1, -1]]
    inside = np.column_stack([opens, path])
    return {
        "open": np.exp(opens),
        "high": np.exp(inside.max(axis=1)),
        "low": np.exp(inside.min(axis=1)),
        "close": np.exp(path[:, -1]),
    }


@pytest.mark.parametrize(
    ("estimator", "drift_free"),
    [
        (parkinson_volatility, False),
        (garman_klass_volatility, False),
        (rogers_satchell_volatility, True),
        (yang_zhang_volatility, True),
        (realised_volatility, True),
    ],
    ids=lambda v: getattr(v, "__name__", str(v)),
)
def test_recovers_the_simulated_per_bar_sigma(estimator, drift_free):
    """Scaling constants matter: a wrong 4·ln2 or k would miss sigma by far more than 8 %."""
    sigma = 2e-3
    drift = 2 * sigma if drift_free else 0.0
    b = _brownian_bars(1500, 1000, sigma, drift, seed=22)
    window = 1500
    if estimator is parkinson_volatility:
        est = estimator(b["high"], b["low"], window)
    elif estimator is realised_volatility:
        est = estimator(b["close"], window - 1)
    else:
        est = estimator(b["open"], b["high"], b["low"], b["close"], window - 1)
    assert est[-1] == pytest.approx(sigma, rel=0.08)


def test_non_positive_price_names_the_column_and_bar(make_bars):
    b = make_bars(50, seed=23)
    b["low"][17] = 0.0
    with pytest.raises(DataError, match=r"low: .*bar 17"):
        parkinson_volatility(b["high"], b["low"], 5)
