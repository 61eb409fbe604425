"""Causal numeric kernels for the features TA-Lib does not provide.

Every kernel takes 1-D float64 arrays of equal length (bars in time order, one instrument, one
timeframe) and integer window lengths in bars, and returns float64 arrays of the same length.
The value at bar ``i`` depends on inputs ``[0 .. i]`` only. ``KERNELS`` maps each kernel's name
to a ``Kernel`` spec: its array inputs (bar column names, or ``x``/``y`` for any series) and its
warm-up rule (leading NaN bars for given parameters).
"""

from __future__ import annotations

from mlfactory.features.kernels.fracdiff import (
    FfdChoice,
    ffd_warmup,
    ffd_weights,
    find_min_ffd_d,
    frac_diff_ffd,
)
from mlfactory.features.kernels.microstructure import (
    amihud_illiquidity,
    change_warmup,
    corwin_schultz_spread,
    kyle_lambda,
    roll_spread,
    roll_spread_warmup,
)
from mlfactory.features.kernels.regime import (
    hurst_warmup,
    rolling_hurst,
    trend_regime,
    trend_regime_warmup,
    volatility_regime,
    volatility_regime_warmup,
)
from mlfactory.features.kernels.rolling import (
    rolling_mean,
    rolling_percentile_rank,
    rolling_r2,
    rolling_regression_slope,
    rolling_slope,
    rolling_slope_tstat,
    rolling_std,
    rolling_sum,
    rolling_warmup,
    rolling_zscore,
    segment_cumsum,
)
from mlfactory.features.kernels.spec import Kernel
from mlfactory.features.kernels.volatility_estimators import (
    close_to_close_warmup,
    garman_klass_volatility,
    parkinson_volatility,
    range_warmup,
    realised_volatility,
    rogers_satchell_volatility,
    yang_zhang_volatility,
)
from mlfactory.features.kernels.wavelets import wavelet_features, wavelet_output_names, wavelet_warmup

_OHLC = ("open", "high", "low", "close")

KERNELS: dict[str, Kernel] = {
    k.name: k
    for k in (
        Kernel("rolling_sum", rolling_sum, ("x",), rolling_warmup),
        Kernel("rolling_mean", rolling_mean, ("x",), rolling_warmup),
        Kernel("rolling_std", rolling_std, ("x",), rolling_warmup),
        Kernel("rolling_zscore", rolling_zscore, ("x",), rolling_warmup),
        Kernel("rolling_percentile_rank", rolling_percentile_rank, ("x",), rolling_warmup),
        Kernel("rolling_slope", rolling_slope, ("x",), rolling_warmup),
        Kernel("rolling_r2", rolling_r2, ("x",), rolling_warmup),
        Kernel("rolling_slope_tstat", rolling_slope_tstat, ("x",), rolling_warmup),
        Kernel("rolling_regression_slope", rolling_regression_slope, ("y", "x"), rolling_warmup),
        Kernel("parkinson_volatility", parkinson_volatility, ("high", "low"), range_warmup),
        Kernel("garman_klass_volatility", garman_klass_volatility, _OHLC, range_warmup),
        Kernel("rogers_satchell_volatility", rogers_satchell_volatility, _OHLC, range_warmup),
        Kernel("yang_zhang_volatility", yang_zhang_volatility, _OHLC, close_to_close_warmup),
        Kernel("realised_volatility", realised_volatility, ("close",), close_to_close_warmup),
        Kernel("roll_spread", roll_spread, ("close",), roll_spread_warmup),
        Kernel("corwin_schultz_spread", corwin_schultz_spread, ("high", "low"), change_warmup),
        Kernel("amihud_illiquidity", amihud_illiquidity, ("close", "volume"), change_warmup),
        Kernel("kyle_lambda", kyle_lambda, ("close", "volume"), change_warmup),
        Kernel("wavelet_features", wavelet_features, ("x",), wavelet_warmup, multi_output=True),
        Kernel("frac_diff_ffd", frac_diff_ffd, ("x",), ffd_warmup),
        Kernel("volatility_regime", volatility_regime, ("close",), volatility_regime_warmup),
        Kernel("trend_regime", trend_regime, ("x",), trend_regime_warmup),
        Kernel("rolling_hurst", rolling_hurst, ("x",), hurst_warmup),
    )
}

__all__ = [
    "KERNELS",
    "FfdChoice",
    "Kernel",
    "amihud_illiquidity",
    "change_warmup",
    "close_to_close_warmup",
    "corwin_schultz_spread",
    "ffd_warmup",
    "ffd_weights",
    "find_min_ffd_d",
    "frac_diff_ffd",
    "garman_klass_volatility",
    "hurst_warmup",
    "kyle_lambda",
    "parkinson_volatility",
    "range_warmup",
    "realised_volatility",
    "rogers_satchell_volatility",
    "roll_spread",
    "roll_spread_warmup",
    "rolling_hurst",
    "rolling_mean",
    "rolling_percentile_rank",
    "rolling_r2",
    "rolling_regression_slope",
    "rolling_slope",
    "rolling_slope_tstat",
    "rolling_std",
    "rolling_sum",
    "rolling_warmup",
    "rolling_zscore",
    "segment_cumsum",
    "trend_regime",
    "trend_regime_warmup",
    "volatility_regime",
    "volatility_regime_warmup",
    "wavelet_features",
    "wavelet_output_names",
    "wavelet_warmup",
    "yang_zhang_volatility",
]
