"""Wavelets (PyWavelets): energy shares and latest detail coefficients of 1-bar log returns.

Each bar's transform sees only its own trailing window (``kernels.wavelet_features``); a transform
over the whole series would leak the future through the filters and boundary extension.
"""

from __future__ import annotations

import numpy as np

from mlfactory.features import kernels as k
from mlfactory.features.context import BarContext
from mlfactory.features.spec import GroupBuilder

WAVELET = "db4"
CONFIGS = ((64, 3), (128, 4))  # (window bars, decomposition level)


def _wavelets(c: BarContext, window: int, level: int) -> dict[str, np.ndarray]:
    return c.memo(("wavelets", window, level), lambda: k.wavelet_features(c.ret1, window, WAVELET, level))


def build(g: GroupBuilder) -> None:
    for window, level in CONFIGS:
        # ret1 is NaN at bar 0, so the first full finite window ends one bar after the kernel's warm-up
        warmup = k.wavelet_warmup(window) + 1
        for out in k.wavelet_output_names(level):
            what = "energy share" if out.startswith("energy") else "latest coefficient"
            band = out.split("_")[1]
            g.add(
                f"wav_{out}_{window}",
                lambda c, out=out, w=window, lv=level: _wavelets(c, w, lv)[out],
                warmup=warmup,
                window_only=True,
                desc=f"{WAVELET} level-{level} DWT of log returns over the last {window} bars: {what} of band {band}",
            )
