"""Computations behind the figures, against scikit-learn or a slow obvious reference."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import calibration_curve

from mlfactory.errors import DataError
from mlfactory.evaluation.report.figures import (
    confusion_figure,
    correlation_figure,
    decimation_index,
    drawdown_from_equity,
    importance_figure,
    reliability_curve,
    session_rangebreaks,
)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("n_bins", [1, 5, 10])
def test_reliability_curve_matches_sklearn_calibration_curve(seed: int, n_bins: int) -> None:
    rng = np.random.default_rng(seed)
    n = 400
    p = rng.beta(0.7, 1.5, n)
    p[:6] = [0.0, 1.0, 0.1, 0.2, 0.5, 0.9]  # ends and exact inner edges
    y = rng.random(n) < p
    mean_p, freq, count = reliability_curve(y, p, n_bins)
    want_freq, want_mean = calibration_curve(y, p, n_bins=n_bins, strategy="uniform")
    np.testing.assert_allclose(mean_p, want_mean, rtol=1e-12)
    np.testing.assert_allclose(freq, want_freq, rtol=1e-12)
    assert count.sum() == n and (count > 0).all()


def test_reliability_curve_drops_empty_bins_and_checks_shapes() -> None:
    mean_p, freq, count = reliability_curve(np.array([1, 0, 1]), np.array([0.05, 0.05, 0.95]), 10)
    np.testing.assert_allclose(mean_p, [0.05, 0.95])
    np.testing.assert_allclose(freq, [0.5, 1.0])
    assert count.tolist() == [2, 1]
    with pytest.raises(DataError, match="must be equal 1-D"):
        reliability_curve(np.array([1, 0]), np.array([0.5]))


def test_decimation_keeps_ends_and_requested_rows() -> None:
    assert decimation_index(10, 100).tolist() == list(range(10))
    idx = decimation_index(100_003, 4000, keep=[77_777])
    assert idx[0] == 0 and idx[-1] == 100_002 and 77_777 in idx
    assert (np.diff(idx) > 0).all() and idx.shape[0] <= 4000 + 2


def test_drawdown_from_equity_matches_a_loop() -> None:
    eq = np.cumsum(np.random.default_rng(3).normal(0.0, 1.0, 500))
    peak, want = 0.0, []
    for v in eq:
        peak = max(peak, v)
        want.append(v - peak)
    np.testing.assert_allclose(drawdown_from_equity(eq), want)
    assert (drawdown_from_equity(eq) <= 0).all()


def test_confusion_figure_colours_are_row_shares_and_text_counts() -> None:
    fig = confusion_figure([[8, 2, 0], [0, 0, 0], [1, 1, 2]], "m")
    z = np.asarray(fig.data[0].z)
    np.testing.assert_allclose(z[0], [0.8, 0.2, 0.0])
    np.testing.assert_allclose(z[1], [0.0, 0.0, 0.0])  # a class absent from the truth: no division by zero
    np.testing.assert_allclose(z[2], [0.25, 0.25, 0.5])
    assert list(fig.data[0].text[2]) == ["1", "1", "2"]
    with pytest.raises(DataError, match="3 × 3"):
        confusion_figure([[1, 2], [3, 4]], "m")


def test_importance_figure_takes_top_features_by_magnitude_and_drops_nan() -> None:
    imp = {f"f{i}": float(v) for i, v in enumerate([0.1, -5.0, 3.0, np.nan, 0.2])}
    fig = importance_figure(imp, "m", top_n=3)
    assert list(fig.data[0].y) == ["f4", "f2", "f1"]  # largest |importance| on top (drawn last)


def test_correlation_figure_checks_the_matrix_shape() -> None:
    with pytest.raises(DataError, match="does not match 3 names"):
        correlation_figure(["a", "b", "c"], [[1.0, 0.5], [0.5, 1.0]], "e")


def test_session_rangebreaks_hide_weekends_and_session_pauses() -> None:
    minute = 60 * 10**9
    friday = np.datetime64("2024-03-08T20:55:00").astype("datetime64[ns]").astype(np.int64)
    block = np.arange(6, dtype=np.int64) * 5 * minute
    sunday = np.datetime64("2024-03-10T22:00:00").astype("datetime64[ns]").astype(np.int64)
    ts = np.concatenate([friday - block[::-1], sunday + block])
    breaks = session_rangebreaks(ts)
    assert breaks == [{"bounds": ["2024-03-08T20:55:01", "2024-03-10T22:00:00"]}]  # only the weekend
    assert session_rangebreaks(np.arange(10, dtype=np.int64) * 5 * minute) == []  # regular bars: none
    assert session_rangebreaks(ts[:2]) == []


def test_equity_figure_skips_breaks_and_keeps_series_apart(built_run) -> None:
    from mlfactory.evaluation.report.artifacts import load_run
    from mlfactory.evaluation.report.figures import equity_figure

    run = load_run(built_run)
    fig = equity_figure(run.models)
    ts = np.concatenate(
        [m.equity["timestamp"].dt.epoch("ns").to_numpy() for m in run.models if m.equity is not None]
    )
    assert len(fig.layout.xaxis.rangebreaks) == len(session_rangebreaks(ts)) > 0
    styles = [
        (t.line.color, t.line.dash) for t in fig.data if t.showlegend is not False and t.name != "always flat"
    ]
    assert len(styles) == len(set(styles))  # every legend entry has its own colour and dash
