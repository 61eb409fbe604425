"""Multi-timeframe features: indicators of a coarser timeframe, as-of joined onto base timestamps.

A higher bar stamped ``T`` (its close) is usable at base timestamps ``>= T`` and never earlier:
a 15m bar stamped 10:15 reaches the 5m row stamped 10:15, not the one stamped 10:10. Columns are
named ``<feature>__<tf>`` (e.g. ``rsi_14__1h``); ``warm__<tf>`` is True where a closed higher bar
exists and every chosen feature is past its warm-up on the higher timeframe.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from mlfactory.data.align import asof_align
from mlfactory.data.instruments import Instrument
from mlfactory.errors import ConfigError, DataError
from mlfactory.features.compute import compute_features
from mlfactory.features.registry import feature_defs
from mlfactory.timeframes import check_timeframe

# Defined on every ladder timeframe (bar-count windows) with warm-ups of at most ~50 higher bars.
DEFAULT_MTF_FEATURES: tuple[str, ...] = (
    "ret_log_1",
    "ret_log_5",
    "rsi_14",
    "stoch_k_14",
    "willr_14",
    "cci_20",
    "macd_hist_12_26_9",
    "adx_14",
    "di_spread_14",
    "dist_ema_20",
    "dist_ema_50",
    "linreg_slope_20",
    "channel_pos_20",
    "natr_14",
    "bb_pctb_20",
    "bb_width_20",
    "rv_20",
    "rvol_20",
    "trend_tstat_50",
)


def mtf_column(name: str, tf: str) -> str:
    return f"{name}__{tf}"


def mtf_indicator_features(
    base_frame_ts: pl.Series | pl.DataFrame,
    higher_bars: pl.DataFrame,
    higher_tf: str,
    instrument: Instrument,
    names: Sequence[str] = DEFAULT_MTF_FEATURES,
) -> pl.DataFrame:
    """``timestamp`` (the base stamps) + ``<name>__<higher_tf>`` float32 columns + ``warm__<higher_tf>``.

    ``names`` are registry features of ``higher_tf``; features fitted on training rows (fracdiff)
    are refused here — their state belongs to the base timeframe's fit.
    """
    check_timeframe(higher_tf, "higher_tf")
    names = list(dict.fromkeys(names))  # requested order, duplicates dropped
    if not names:
        raise ConfigError(f"MTF features for {higher_tf}: empty feature list; name at least one feature")
    fitted = [d.spec.name for d in feature_defs(higher_tf, instrument, names) if d.spec.fitted]
    if fitted:
        raise ConfigError(
            f"MTF features for {higher_tf}: {fitted} need state fitted on training rows; "
            "choose features without fitted state for the multi-timeframe subset"
        )
    base = (
        base_frame_ts.to_frame("timestamp")
        if isinstance(base_frame_ts, pl.Series)
        else base_frame_ts.select("timestamp")
    )
    if base.schema["timestamp"] != pl.Datetime("ns", "UTC"):
        raise DataError(
            f"MTF features: base timestamps must be Datetime('ns', 'UTC'), got {base.schema['timestamp']}"
        )
    higher, _ = compute_features(higher_bars, higher_tf, instrument, names=names)
    warm_col = mtf_column("warm", higher_tf)
    right = higher.rename({n: mtf_column(n, higher_tf) for n in names}).rename({"warm": warm_col})
    joined = asof_align(base, right)
    cols = [mtf_column(n, higher_tf) for n in names]
    # Rows before the first closed higher bar get NaN values and warm False.
    return joined.select(
        "timestamp", pl.col(cols).fill_null(np.nan).cast(pl.Float32), pl.col(warm_col).fill_null(False)
    )
