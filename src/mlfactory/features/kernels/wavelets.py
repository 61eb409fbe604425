"""Discrete wavelet features on trailing windows only.

A transform over the whole series mixes future bars into every coefficient (the filters are
two-sided and the boundary extension reaches the end of the data), so it leaks. Here, for each
bar ``i`` the DWT is taken of ``x[i - window + 1 .. i]`` alone. All windows are transformed in
batches: ``pywt.wavedec`` along the last axis of a strided ``(chunk, window)`` view, no Python
loop per bar.
"""

from __future__ import annotations

import numpy as np
import pywt
from numpy.lib.stride_tricks import sliding_window_view

from mlfactory.errors import ConfigError
from mlfactory.features.kernels.inputs import as_series, check_window

_CHUNK_ROWS = 16_384  # windows per wavedec call: bounds the copy to chunk × window × 8 bytes


def wavelet_warmup(window: int, **_: object) -> int:
    """The first ``window - 1`` bars are NaN (a full window is needed)."""
    return window - 1


def wavelet_output_names(level: int) -> tuple[str, ...]:
    """Output keys of ``wavelet_features`` for ``level``: energies coarse→fine, then last details."""
    details = [f"d{j}" for j in range(level, 0, -1)]
    return (
        f"energy_a{level}",
        *(f"energy_{d}" for d in details),
        *(f"detail_{d}" for d in details),
    )


def _check_wavelet(window: int, wavelet: str, level: int, mode: str) -> pywt.Wavelet:
    try:
        wav = pywt.Wavelet(wavelet)
    except ValueError as exc:
        raise ConfigError(
            f"wavelet: {wavelet!r} is not a discrete PyWavelets wavelet (e.g. 'haar', 'db4', 'sym4')"
        ) from exc
    if mode not in pywt.Modes.modes:
        raise ConfigError(f"mode: {mode!r} is not a PyWavelets extension mode; use one of {pywt.Modes.modes}")
    check_window(level, "level", minimum=1)
    max_level = pywt.dwt_max_level(window, wav.dec_len)
    if level > max_level:
        raise ConfigError(
            f"level: {level} is too deep for a {window}-bar window with {wavelet!r} "
            f"(at most {max_level}); lengthen the window or lower the level"
        )
    return wav


def wavelet_features(
    x: np.ndarray, window: int, wavelet: str = "db4", level: int = 3, mode: str = "symmetric"
) -> dict[str, np.ndarray]:
    """Per-bar DWT features of the trailing window (keys from ``wavelet_output_names(level)``).

    - ``energy_a{L}``, ``energy_d{L}`` … ``energy_d1``: share of the window's coefficient energy
      (sum of squares) in the approximation and in each detail level; they sum to 1 (all 0 for an
      all-zero window).
    - ``detail_d{L}`` … ``detail_d1``: the last (most recent) detail coefficient of each level.

    A window holding NaN gives NaN. Feed a stationary series (log returns), not raw prices.
    """
    w = check_window(window)
    wav = _check_wavelet(w, wavelet, level, mode)
    xs = as_series(x, "x")
    names = wavelet_output_names(level)
    out = {name: np.full(len(xs), np.nan) for name in names}
    if len(xs) < w:
        return out
    windows = sliding_window_view(xs, w)
    n_bands = level + 1
    for start in range(0, len(windows), _CHUNK_ROWS):
        coeffs = pywt.wavedec(windows[start : start + _CHUNK_ROWS], wav, mode=mode, level=level, axis=-1)
        energy = np.stack([np.einsum("ij,ij->i", c, c) for c in coeffs])  # (bands, rows)
        total = energy.sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(total == 0.0, 0.0, energy / total)
        rows = slice(start + w - 1, start + w - 1 + energy.shape[1])
        for b in range(n_bands):
            out[names[b]][rows] = share[b]
        for j, c in enumerate(coeffs[1:]):
            out[names[n_bands + j]][rows] = c[:, -1]
    # a coefficient only sees part of the window, so NaN would not reach every output by itself
    bad_so_far = np.r_[0, np.cumsum(~np.isfinite(xs))]
    has_bad = np.zeros(len(xs), dtype=bool)
    has_bad[w - 1 :] = bad_so_far[w:] > bad_so_far[:-w]
    for values in out.values():
        values[has_bad] = np.nan
    return out
