"""Every configuration tried in a run, in one unit, and the deflated Sharpe against all of them.

**One unit.** A configuration's Sharpe is the *per-decision* Sharpe of its returns *net of costs*:
at each decision the side (``+1``/``-1``/``0``, or a signed size; the argmax side when given class
probabilities ``p_short, p_neutral, p_long``) times the label return, minus ``|side| ×`` the
instrument's round-trip cost as a return at that decision's own entry price:
``r_i = side_i · ret_i - |side_i| · round_trip_cost_points / entry_price_i``. Not annualised, not
per bar: the same for single models, tuning trials, ensemble candidates and walk-forward variants.

**Trial registry.** ``RUN/trials.jsonl``, one JSON object per line (``Trial``), appended under a
file lock in one write; a trial recorded again (same ``trial_id``, e.g. a model re-trained)
replaces its earlier record. Ids: ``models/<name>_h<H>`` and ``ensembles/<id>`` for what the run
keeps (the report matches them to the directories), ``<that>/trial-<k>`` for tuning trials,
``<ensemble>/candidate-<name>`` for ensemble candidates, ``<id>/walk-forward-<k>`` for variants.

**Deflated Sharpe in the run.** The DSR of a trial (Bailey & López de Prado 2014) deflates its
per-decision Sharpe by the expected maximum of ``N`` unskilled trials, ``N`` = every trial in the
registry and the variance their Sharpes; it is read when reported, so every model sees the same
``N`` whatever the training order. With one trial there is no selection to deflate: the DSR is
``None``, shown "n/a, 1 trial".
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlfactory.data.instruments import Instrument
from mlfactory.errors import ArtifactError, DataError
from mlfactory.evaluation.overfitting import (
    deflated_sharpe_ratio,
    expected_maximum_sharpe_ratio,
    sharpe_ratio_moments,
)

TRIALS_FILE = "trials.jsonl"
UNIT = "per-decision return net of costs"
_SIDES = np.array([-1.0, 0.0, 1.0])


@dataclass(frozen=True)
class Trial:
    """One configuration tried: its id, kind, and the moments of its per-decision net returns."""

    trial_id: str
    kind: str  # model | tuning | ensemble | ensemble_candidate | walk_forward
    horizon: int
    split: str
    sr: float  # per-decision Sharpe, net of costs
    skew: float
    kurt: float  # Pearson
    n_obs: int


def decision_sides(positions_or_proba: np.ndarray) -> np.ndarray:
    """Signed position per decision: 1-D positions as given, or the argmax side of ``n × 3`` probabilities."""
    x = np.asarray(positions_or_proba, dtype=np.float64)
    if x.ndim == 2 and x.shape[1] == 3:
        return _SIDES[x.argmax(axis=1)]
    if x.ndim == 1:
        return x
    raise DataError(f"positions_or_proba: expected 1-D positions or n × 3 probabilities, got shape {x.shape}")


def entry_prices(decision_ts: np.ndarray, bar_ts: np.ndarray, bar_close: np.ndarray) -> np.ndarray:
    """The close of each decision's own bar (int64 ns timestamps; every decision must be on the bar clock)."""
    ts, dts = np.asarray(bar_ts, dtype=np.int64), np.asarray(decision_ts, dtype=np.int64)
    i = np.searchsorted(ts, dts)
    off = (i >= ts.shape[0]) | (ts[np.minimum(i, ts.shape[0] - 1)] != dts)
    if off.any():
        raise DataError(
            f"decision_ts: {int(off.sum())} decision(s) not on the bar clock (first {int(dts[off][0])})"
        )
    return np.asarray(bar_close, dtype=np.float64)[i]


def decision_net_returns(
    positions_or_proba: np.ndarray,
    label_returns: np.ndarray,
    entry_prices: np.ndarray,
    instrument: Instrument,
) -> np.ndarray:
    """Per-decision returns net of the round-trip cost at each entry price (see the module docstring)."""
    side = decision_sides(positions_or_proba)
    ret, entry = np.asarray(label_returns, np.float64), np.asarray(entry_prices, np.float64)
    if not side.shape == ret.shape == entry.shape:
        raise DataError(
            f"positions ({side.shape[0]}), label returns ({ret.shape[0]}) and entry prices "
            f"({entry.shape[0]}): need one of each per decision"
        )
    if not (np.isfinite(entry).all() and (entry > 0).all()):
        raise DataError(
            "entry_prices: need a finite positive price at every decision (costs are a share of it)"
        )
    return side * ret - np.abs(side) * instrument.round_trip_cost_points() / entry


def decision_trial(
    trial_id: str,
    kind: str,
    horizon: int,
    split: str,
    positions_or_proba: np.ndarray,
    label_returns: np.ndarray,
    entry_prices: np.ndarray,
    instrument: Instrument,
) -> Trial:
    """The ``Trial`` of one configuration: the moments of its per-decision net returns (SR 0 when flat)."""
    r = decision_net_returns(positions_or_proba, label_returns, entry_prices, instrument)
    m = sharpe_ratio_moments(r)
    return Trial(trial_id, kind, int(horizon), split, m["sr"], m["skew"], m["kurt"], int(r.shape[0]))


def record_trial(run_root: Path, trial: Trial) -> None:
    """Append ``trial`` to ``RUN/trials.jsonl`` (one locked write, safe across processes)."""
    from filelock import FileLock

    path = Path(run_root) / TRIALS_FILE
    line = (json.dumps(asdict(trial), allow_nan=True) + "\n").encode()
    with FileLock(str(path) + ".lock"):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)


def record_decision_trial(
    run_root: Path,
    trial_id: str,
    kind: str,
    horizon: int,
    split: str,
    positions_or_proba: np.ndarray,
    label_returns: np.ndarray,
    entry_prices: np.ndarray,
    instrument: Instrument,
) -> Trial:
    """``decision_trial`` then ``record_trial``: the one call for a model, tuning trial, ensemble
    candidate or walk-forward variant (e.g. ``<ensemble>/candidate-weighted_average``)."""
    trial = decision_trial(
        trial_id, kind, horizon, split, positions_or_proba, label_returns, entry_prices, instrument
    )
    record_trial(run_root, trial)
    return trial


def read_trials(run_root: Path) -> dict[str, Trial]:
    """Every trial of the run by id (a later record of the same id wins); empty when none was recorded."""
    path = Path(run_root) / TRIALS_FILE
    if not path.is_file():
        return {}
    out: dict[str, Trial] = {}
    for i, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            trial = Trial(**json.loads(line))
        except (json.JSONDecodeError, TypeError) as exc:
            raise ArtifactError(
                f"{path}, line {i}: not a trial record ({exc}); delete the line or rerun"
            ) from exc
        out[trial.trial_id] = trial
    return out


def deflated_sharpe_in_run(trials: dict[str, Trial], trial_id: str) -> dict[str, Any]:
    """DSR of ``trial_id`` against every trial of the run (``dsr`` None with one trial or a flat series)."""
    if trial_id not in trials:
        raise ArtifactError(f"trial {trial_id!r} is not in the run's {TRIALS_FILE}; record it first")
    t = trials[trial_id]
    srs = np.array([x.sr for x in trials.values()])
    n = srs.shape[0]
    var = float(srs.var(ddof=1)) if n > 1 else 0.0
    out: dict[str, Any] = {
        "dsr": None,
        "unit": UNIT,
        "sr_per_decision": t.sr,
        "n_trials": n,
        "var_trials_sr": var,
        "expected_max_sr": expected_maximum_sharpe_ratio(n, var),
        "n_obs": t.n_obs,
        "skew": t.skew,
        "kurt": t.kurt,
    }
    if n == 1:
        return {**out, "display": "n/a, 1 trial"}
    if t.n_obs < 3 or (t.sr == 0 and t.kurt == 3.0 and t.skew == 0):
        return {**out, "display": "n/a, flat or too short"}
    dsr = deflated_sharpe_ratio(t.sr, n, var, t.n_obs, t.skew, t.kurt)
    return {**out, "dsr": dsr, "display": f"{dsr:.2f} ({n} trials)"}
