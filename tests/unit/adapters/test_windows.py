"""Window builders: closed bars only, no segment crossing, no warm-up rows, aligned multi-stream."""

from __future__ import annotations

import numpy as np
import pytest

from mlfactory.adapters.windows import build_multistream_view, build_window_view
from mlfactory.errors import DataError

MIN = 60_000_000_000
T0 = 1_700_000_000 * 1_000_000_000


def _bars(n: int, seed: int, step: int = MIN):
    """``n`` bars with gaps, a few segments and warm-up rows; close times ``T0 + k·step`` (k increasing)."""
    rng = np.random.default_rng(seed)
    k = np.cumsum(np.where(rng.random(n) < 0.03, 3, 1))
    ts = T0 + k.astype(np.int64) * step
    segment = np.cumsum(np.diff(k, prepend=k[0]) > 1)  # a new segment after every gap
    valid = rng.random(n) > 0.01
    values = rng.normal(size=(n, 3)).astype(np.float32)
    return values, ts, segment.astype(np.int64), valid


def _reference_end(ts, segment, valid, finite, t, seq_len):
    """Slow, obvious rule: the last bar closed by ``t`` and the ``seq_len - 1`` bars before it."""
    closed = [i for i in range(len(ts)) if ts[i] <= t]
    if not closed or closed[-1] < seq_len - 1:
        return -1
    end = closed[-1]
    rows = range(end - seq_len + 1, end + 1)
    if any(segment[r] != segment[end] for r in rows) or not all(valid[r] and finite[r] for r in rows):
        return -1
    return end


@pytest.mark.parametrize("seed", range(5))
def test_window_ends_match_a_slow_reference(seed):
    values, ts, segment, valid = _bars(300, seed)
    values[np.random.default_rng(seed).integers(0, 300, 3), 1] = np.nan
    decisions = np.sort(np.random.default_rng(seed + 100).integers(T0 - 5 * MIN, ts[-1] + 5 * MIN, 120))
    view = build_window_view(values, ts, segment, valid, decisions, 7)
    finite = np.isfinite(values).all(axis=1)
    expected = [(t, _reference_end(ts, segment, valid, finite, t, 7)) for t in decisions]
    kept = [(t, e) for t, e in expected if e >= 0]
    assert len(kept) > 10
    np.testing.assert_array_equal(view.timestamps, [t for t, _ in kept])
    np.testing.assert_array_equal(view.ends, [e for _, e in kept])


def test_a_window_never_includes_a_bar_closing_after_its_decision():
    values, ts, segment, valid = _bars(400, 1)
    decisions = ts[::3] + np.int64(30_000_000_000)  # mid-bar: the next bar has not closed yet
    view = build_window_view(values, ts, segment, valid, decisions, 10)
    assert len(view) > 50
    assert (ts[view.ends] <= view.timestamps).all()
    nxt = np.minimum(view.ends + 1, len(ts) - 1)
    assert ((ts[nxt] > view.timestamps) | (view.ends == len(ts) - 1)).all()  # and it is the latest closed bar


def test_perturbing_the_future_leaves_past_windows_unchanged():
    values, ts, segment, valid = _bars(400, 2)
    cut = ts[250]
    decisions = ts[20:250:2]
    before = build_window_view(values, ts, segment, valid, decisions, 12)
    future = values.copy()
    future[ts > cut] = 1e9
    valid_future = valid.copy()
    valid_future[ts > cut] = False
    after = build_window_view(future, ts, segment, valid_future, decisions, 12)
    np.testing.assert_array_equal(after.timestamps, before.timestamps)
    np.testing.assert_array_equal(after.take(np.arange(len(after))), before.take(np.arange(len(before))))


def test_windows_never_cross_a_segment_and_skip_invalid_rows():
    values, ts, segment, valid = _bars(500, 3)
    view = build_window_view(values, ts, segment, valid, ts, 8)
    steps = view.ends[:, None] + np.arange(-7, 1)[None, :]
    assert (segment[steps] == segment[view.ends][:, None]).all()
    assert valid[steps].all()
    # a decision right after a segment break has too few rows in its new segment and is dropped
    first_of_segment = np.flatnonzero(np.diff(segment, prepend=-1) != 0)
    assert not np.isin(ts[first_of_segment], view.timestamps).any()


def test_repeated_segment_ids_are_still_breaks():
    values = np.zeros((6, 1), dtype=np.float32)
    ts = T0 + np.arange(6, dtype=np.int64) * MIN
    segment = np.array([0, 0, 0, 1, 1, 0])  # id 0 returns after a break: rows 5 and 0-2 are different runs
    view = build_window_view(values, ts, segment, np.ones(6, dtype=bool), ts, 2)
    np.testing.assert_array_equal(view.ends, [1, 2, 4])


def test_decision_exactly_at_a_bar_close_includes_that_bar_and_order_is_kept():
    values = np.arange(10, dtype=np.float32)[:, None]
    ts = T0 + np.arange(10, dtype=np.int64) * MIN
    decisions = np.array([ts[5], ts[3], ts[0], ts[9] + MIN], dtype=np.int64)
    view = build_window_view(values, ts, np.zeros(10, dtype=np.int64), np.ones(10, dtype=bool), decisions, 3)
    np.testing.assert_array_equal(view.timestamps, decisions[[0, 1, 3]])
    np.testing.assert_array_equal(view.take(np.arange(3))[:, :, 0], [[3, 4, 5], [1, 2, 3], [7, 8, 9]])


def test_min_start_ts_drops_windows_reaching_before_it():
    values = np.zeros((10, 1), dtype=np.float32)
    ts = T0 + np.arange(10, dtype=np.int64) * MIN
    view = build_window_view(
        values, ts, np.zeros(10, dtype=np.int64), np.ones(10, dtype=bool), ts, 3, min_start_ts=int(ts[4])
    )
    np.testing.assert_array_equal(view.ends, [6, 7, 8, 9])


@pytest.mark.parametrize(
    "change, match",
    [
        ({"row_ts": lambda ts: ts[::-1].copy()}, "strictly increasing"),
        ({"row_ts": lambda ts: ts.astype(np.float64)}, "int64"),
        ({"row_valid": lambda v: v.astype(np.int8)}, "boolean"),
        ({"row_segment": lambda s: s[:-1]}, "row_segment"),
        ({"values": lambda v: v[:, 0]}, "2D"),
    ],
)
def test_bad_inputs_raise_naming_the_argument(change, match):
    values, ts, segment, valid = _bars(50, 4)
    args = {"values": values, "row_ts": ts, "row_segment": segment, "row_valid": valid}
    ((key, fn),) = change.items()
    args[key] = fn(args[key])
    with pytest.raises(DataError, match=match):
        build_window_view(**args, decision_ts=ts, seq_len=4)
    with pytest.raises(DataError, match="seq_len"):
        build_window_view(values, ts, segment, valid, ts, 0)
    with pytest.raises(DataError, match="feature_names"):
        build_window_view(values, ts, segment, valid, ts, 2, feature_names=("a",))


def _resample_stream(values_1m, ts_1m, minutes):
    """Close times of ``minutes``-bars and their last 1m value (bar k closes at T0 + k·minutes·MIN)."""
    last = np.flatnonzero((ts_1m - T0) % (minutes * MIN) == 0)
    return values_1m[last], ts_1m[last]


def test_multistream_aligns_each_stream_on_its_last_closed_bar():
    n = 240
    ts1 = T0 + np.arange(1, n + 1, dtype=np.int64) * MIN
    v1 = np.stack([np.arange(1, n + 1)] * 2, axis=1).astype(np.float32)  # value = minute index
    v5, ts5 = _resample_stream(v1, ts1, 5)
    ones = lambda k: np.ones(k, dtype=bool)  # noqa: E731
    zeros = lambda k: np.zeros(k, dtype=np.int64)  # noqa: E731
    streams = {
        "1m": (v1, ts1, zeros(n), ones(n)),
        "5m": (v5, ts5, zeros(len(ts5)), ones(len(ts5))),
    }
    decisions = ts1[::7]
    view = build_multistream_view(streams, decisions, 4, feature_names=("a", "b"))
    assert view.stream_names == ("1m", "5m")
    batch = view.take(np.arange(len(view)))  # (n, 2, 4, 2)
    minute = (view.timestamps - T0) // MIN
    np.testing.assert_array_equal(batch[:, 0, -1, 0], minute)  # 1m: the bar closing at the decision
    np.testing.assert_array_equal(batch[:, 1, -1, 0], minute // 5 * 5)  # 5m: the last *closed* 5m bar
    assert (batch[:, 1, -1, 0] <= minute).all()
    # only decisions that both streams can build: the 5m stream needs 4 closed bars (minute >= 20)
    np.testing.assert_array_equal(view.timestamps, decisions[(decisions - T0) // MIN >= 20])


def test_multistream_ignores_a_forming_higher_bar():
    n = 120
    ts1 = T0 + np.arange(1, n + 1, dtype=np.int64) * MIN
    v1 = np.random.default_rng(0).normal(size=(n, 2)).astype(np.float32)
    v15, ts15 = _resample_stream(v1, ts1, 15)
    decision = np.array([T0 + 67 * MIN], dtype=np.int64)  # the 15m bar closing at minute 75 is forming

    def build(v15_):
        streams = {
            "1m": (v1, ts1, np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool)),
            "15m": (v15_, ts15, np.zeros(len(ts15), dtype=np.int64), np.ones(len(ts15), dtype=bool)),
        }
        return build_multistream_view(streams, decision, 3).take(np.arange(1))

    forming = v15.copy()
    forming[ts15 > decision[0]] = 99.0
    np.testing.assert_array_equal(build(forming), build(v15))


def test_multistream_refuses_streams_with_different_channels():
    values, ts, segment, valid = _bars(50, 5)
    with pytest.raises(DataError, match="channel"):
        build_multistream_view(
            {"1m": (values, ts, segment, valid), "5m": (values[:, :2], ts, segment, valid)}, ts, 3
        )
    with pytest.raises(DataError, match="streams"):
        build_multistream_view({}, ts, 3)
