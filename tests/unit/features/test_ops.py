"""Small array operations against obviously-correct loops."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mlfactory.features.ops import segment_cumsum


def _loop(x: np.ndarray, key: np.ndarray) -> np.ndarray:
    out, total = np.empty_like(x), 0.0
    for i in range(len(x)):
        total = x[i] if i == 0 or key[i] != key[i - 1] else total + x[i]
        out[i] = total
    return out


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.floats(-1e6, 1e6), st.integers(0, 3)), min_size=1, max_size=80),
    st.integers(0, 79),
)
def test_segment_cumsum_restarts_at_each_key_change_and_ignores_what_came_before(rows, cut):
    x = np.array([v for v, _ in rows])
    key = np.cumsum([k == 0 for _, k in rows])  # a new segment where k == 0
    np.testing.assert_array_equal(segment_cumsum(x, key), _loop(x, key))
    # a tail starting at a segment start gives the same sums as the whole series (bit for bit)
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    s = starts[min(cut, len(starts) - 1)]
    np.testing.assert_array_equal(segment_cumsum(x[s:], key[s:]), segment_cumsum(x, key)[s:])
