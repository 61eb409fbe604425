"""A feature declared window-only (``FeatureSpec.window_only``) must be exact on any tail that holds
its warm-up: the live predictor computes it on ``warmup + 1 + rows`` bars only. Each one is checked
against the whole series at several tail starts, so a recursion or a running sum declared window-only
by mistake fails here (its value would depend on where the series starts)."""

from __future__ import annotations

import numpy as np
import pytest

from mlfactory.features.compute import compute_features
from mlfactory.features.registry import feature_specs

TAIL_ROWS = 6


@pytest.mark.parametrize("tf", ["1m", "15m"])
def test_window_only_features_equal_the_whole_series_on_their_minimal_tail(
    mes, bars_1m_long, resample_to, tf
):
    bars = bars_1m_long if tf == "1m" else resample_to(bars_1m_long, tf)
    specs = [s for s in feature_specs(tf, mes) if s.window_only]
    assert len(specs) >= 20  # calendar, returns, channels, rolling sums, wavelets, …
    names = [s.name for s in specs]
    whole, _ = compute_features(bars, tf, mes, names=names)
    checked = 0
    for spec in specs:
        size = spec.warmup_bars + 1 + TAIL_ROWS
        if size + 40 > bars.height:
            continue  # a 1d window on 15m bars: too long for this history
        for end in (bars.height, bars.height - 17, bars.height - 40):  # several tail positions
            tail, _ = compute_features(bars.slice(end - size, size), tf, mes, names=[spec.name])
            np.testing.assert_array_equal(
                tail[spec.name].to_numpy()[-TAIL_ROWS:],
                whole[spec.name].to_numpy()[end - TAIL_ROWS : end],
                err_msg=f"{spec.name} on {tf} (tail of {size} ending at {end})",
            )
        checked += 1
    assert checked >= 20
