"""Session labels by UTC clock, volatility regimes, and per-group metrics."""

from __future__ import annotations

import numpy as np
import pytest

from mlfactory.errors import ConfigError, DataError
from mlfactory.evaluation.backtest import backtest
from mlfactory.evaluation.breakdowns import metrics_by_group, session_labels, volatility_regimes

DAY = np.datetime64("2024-03-05T00:00", "ns")


def _ts(*hhmm: str) -> np.ndarray:
    return np.array(
        [
            (DAY + np.timedelta64(int(h) * 60 + int(m), "m")).astype(np.int64)
            for h, m in (x.split(":") for x in hhmm)
        ],
        dtype=np.int64,
    )


def test_session_boundaries_use_the_bar_last_instant():
    ts = _ts("00:00", "06:55", "07:00", "07:05", "13:30", "13:35", "22:00", "22:01", "23:59")
    expected = ["asia", "asia", "asia", "europe", "europe", "us", "us", "asia", "asia"]
    np.testing.assert_array_equal(session_labels(ts), expected)


def test_volatility_regimes_split_calm_and_wild():
    rng = np.random.default_rng(0)
    rets = np.concatenate((rng.normal(0, 1e-4, 600), rng.normal(0, 1e-2, 300)))
    close = 100.0 * np.exp(np.cumsum(rets))
    labels = volatility_regimes(close, window=20)
    assert (labels[:20] == "warmup").all() and (labels[20:] != "warmup").all()
    counts = {k: int((labels == k).sum()) for k in ("low", "mid", "high")}
    assert abs(counts["low"] - counts["high"]) <= 2  # terciles
    assert (labels[650:] == "high").mean() > 0.95
    assert (labels[100:550] == "high").sum() == 0
    with pytest.raises(ConfigError, match="window"):
        volatility_regimes(close, window=1)
    with pytest.raises(DataError, match="bar_close"):
        volatility_regimes(np.array([1.0, -1.0, 2.0]), window=2)


def test_trades_are_attributed_to_the_entry_bar_group(instrument, hand_bars):
    ts, open_, close = hand_bars
    res = backtest(
        ts[[0, 3]], np.array([1.0, -1.0]), ts, open_, close, instrument, holding="until_next_signal"
    )
    labels = np.array(["a", "b", "b", "b", "a", "a", "a", "a"])  # trade 1 enters on bar 1, trade 2 on bar 4
    out = metrics_by_group(res, labels, 1000.0)
    assert out["b"]["trade_count"] == 1 and out["a"]["trade_count"] == 1
    assert out["b"]["average_trade_points"] == pytest.approx(res.trades.pnl_points[0])
    assert out["a"]["n_bars"] == 5
    assert out["a"]["total_pnl_points"] == pytest.approx(res.pnl_points[labels == "a"].sum())
    with pytest.raises(DataError, match="labels"):
        metrics_by_group(res, labels[:-1], 1000.0)
