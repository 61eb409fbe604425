"""Tail lengths of the live features (serving.tails.verify_tails) on generated bars.

A feature whose batch kernel forgets its start (Wilder's RSI) gets a tail whose second half equals the
whole history bit for bit; a running sum over derived values (STOCHRSI's %D, TA-Lib's SMA of %K)
never does, and past ``exact_tail`` bars it is held to float32 rounding instead of doubling until the
tail is the whole history.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from mlfactory.data.instruments import get_instrument
from mlfactory.data.resample import build_ladder
from mlfactory.data.sessions import attach_sessions
from mlfactory.data.synthetic import generate_bars
from mlfactory.features.compute import compute_features
from mlfactory.serving.tails import ROUNDING_ATOL, ROUNDING_RTOL, TailNeeds, rounding_gap, verify_tails

MES = get_instrument("MES")
TF = "5m"


@pytest.fixture(scope="module")
def ladder():
    bars = attach_sessions(generate_bars(30 * 1_380, start=date(2024, 1, 2), seed=11), MES)
    return build_ladder(bars, [TF])


def _needs(names: list[str]) -> TailNeeds:
    return TailNeeds(
        own={TF: names}, mtf={}, seq_len={}, warmup={TF: 40}, session_bars={TF: 277}, rows={TF: 10}
    )


def test_a_forgetting_feature_is_bit_identical_and_a_running_sum_is_held_to_rounding(ladder):
    names = ["rsi_14", "stochrsi_d_14"]
    report = verify_tails(MES, {}, _needs(names), ladder, exact_tail=1_024)[TF]
    assert report["verified"]
    assert set(report["rounding"]) == {"stochrsi_d_14"}  # rsi_14 needed no tolerance
    bars = ladder[TF]
    whole, _ = compute_features(bars, TF, MES, names=names)
    for name in names:
        size = report["own"][name]
        assert size <= 2_048 < bars.height  # bounded: not the whole history
        tail, _ = compute_features(bars.tail(size), TF, MES, names=[name])
        a, b = tail[name].to_numpy()[size // 2 :], whole[name].to_numpy()[-(size - size // 2) :]
        if name == "rsi_14":
            np.testing.assert_array_equal(a, b)
        else:
            assert not np.array_equal(a, b, equal_nan=True)  # the running sum's rounding differs …
            gap = np.nanmax(np.abs(a.astype(np.float64) - b))
            assert gap == pytest.approx(report["rounding"][name])
            np.testing.assert_allclose(
                a, b, rtol=ROUNDING_RTOL, atol=ROUNDING_ATOL
            )  # … within float32 rounding


def test_below_the_exact_tail_only_bit_identity_counts(ladder):
    report = verify_tails(MES, {}, _needs(["stochrsi_d_14"]), ladder, exact_tail=1 << 20)[TF]
    assert report["rounding"] == {}
    assert not report["verified"]  # doubled past the history: the whole history, which is exact
    assert report["own"]["stochrsi_d_14"] >= ladder[TF].height


def test_rounding_gap_refuses_a_real_difference_and_moved_nans():
    b = np.array([0.0, 1.0, 50.0, np.nan], np.float32)
    assert rounding_gap(b.copy(), b) == 0.0
    near = b.copy()
    near[2] = np.nextafter(np.float32(50.0), np.float32(51.0))  # one float32 unit in the last place
    assert rounding_gap(near, b) == pytest.approx(float(near[2]) - 50.0)
    far = b.copy()
    far[2] = 50.001
    assert rounding_gap(far, b) is None
    moved = b.copy()
    moved[0] = np.nan
    assert rounding_gap(moved, b) is None


def test_a_window_only_feature_gets_its_window_plus_the_rows_read(ladder):
    names = ["wav_energy_d1_128", "wav_detail_d2_64", "rsi_14"]
    needs = _needs(names)
    report = verify_tails(MES, {}, needs, ladder)[TF]
    # warm-up: the window less one, plus the bar ret1 needs before it; rounded up to a power of two
    assert report["own"]["wav_energy_d1_128"] == 256 >= 128 + 1 + needs.rows[TF]
    assert report["own"]["wav_detail_d2_64"] == 128 >= 64 + 1 + needs.rows[TF]
    assert report["own"]["rsi_14"] >= needs.session_bars[TF]  # not window-only: the session floor holds
    bars = ladder[TF]
    whole, _ = compute_features(bars, TF, MES, names=names[:2])
    for name in names[:2]:
        size = report["own"][name]
        tail, _ = compute_features(bars.tail(size), TF, MES, names=[name])
        rows = needs.rows[TF]
        np.testing.assert_array_equal(tail[name].to_numpy()[-rows:], whole[name].to_numpy()[-rows:])
