"""Choose the barrier widths ``k_up``, ``k_down`` (in ATRs) per horizon with Optuna, on training rows only.

Objective (maximised, in ``[0, 1]``), for the labels a candidate ``(k_up, k_down)`` produces::

    score = tradable_fraction × class_balance

- ``tradable_fraction``: among directional labels (+1/-1), the share whose move to the exit,
  ``|exit - entry|`` in price points, exceeds the instrument's round-trip cost in points
  (``Instrument.round_trip_cost_points()``: ticks × tick size plus commission ÷ point value, both
  sides). Barriers too tight to pay for the trade score low.
- ``class_balance``: entropy of the shares of -1 / 0 / +1 over the valid labels divided by
  ``log 3`` (1 when the three classes are equally frequent). Barriers so wide that almost every
  label is neutral (or so tight that none is) score low.

Training rows only: decisions at or before ``train_end_ns`` and, for their paths, only minutes at
or before ``train_end_ns``. A window that would need a later minute is censored (``valid`` False)
and left out, so no price after the training period reaches the choice. The search runs over
``k_range`` on a log scale with ``TPESampler(seed)``; a chosen value within 5 % (of the log range)
of a bound is flagged, since the true optimum may then lie outside the range.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from mlfactory.data.instruments import Instrument
from mlfactory.errors import ConfigError, DataError
from mlfactory.labels._validation import as_timestamps
from mlfactory.labels.triple_barrier import prepare_label_inputs, triple_barrier_from_inputs

if TYPE_CHECKING:
    import optuna

OBJECTIVE = "tradable_fraction * class_balance_entropy"
BOUND_TOLERANCE = 0.05


@dataclass(frozen=True)
class BarrierScore:
    """The objective and its parts for one set of labels."""

    score: float
    tradable_fraction: float
    class_balance: float
    share_short: float
    share_neutral: float
    share_long: float
    n_rows: int


def barrier_objective(
    label: np.ndarray, ret: np.ndarray, entry: np.ndarray, cost_points: float
) -> BarrierScore:
    """Score valid labels (see the module docstring); ``entry`` is the entry price of each row."""
    label = np.asarray(label)
    n = label.size
    if n == 0:
        return BarrierScore(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0)
    counts = np.array([(label == -1).sum(), (label == 0).sum(), (label == 1).sum()], dtype=np.float64)
    shares = counts / n
    nz = shares[shares > 0]
    balance = float(-(nz * np.log(nz)).sum() / np.log(3.0))
    directional = label != 0
    if directional.any():
        move = entry[directional] * np.abs(np.expm1(ret[directional]))
        tradable = float((move - cost_points > 0).mean())
    else:
        tradable = 0.0
    return BarrierScore(tradable * balance, tradable, balance, *map(float, shares), n)


@dataclass(frozen=True)
class HorizonBarriers:
    """The chosen barriers for one horizon and how they scored on the training rows."""

    horizon: int
    k_up: float
    k_down: float
    score: BarrierScore
    n_trials: int
    k_up_at_bound: bool
    k_down_at_bound: bool


@dataclass(frozen=True)
class BarrierOptimizationResult:
    """Chosen ``k_up``/``k_down`` per horizon; ``to_dict`` is JSON-serialisable for the run."""

    horizons: dict[int, HorizonBarriers]
    k_range: tuple[float, float]
    cost_points: float
    train_end_ns: int
    seed: int
    symmetric: bool
    objective: str = OBJECTIVE

    @property
    def any_at_bound(self) -> bool:
        return any(h.k_up_at_bound or h.k_down_at_bound for h in self.horizons.values())

    def k_up(self) -> dict[int, float]:
        return {h: r.k_up for h, r in self.horizons.items()}

    def k_down(self) -> dict[int, float]:
        return {h: r.k_down for h, r in self.horizons.items()}

    def to_dict(self) -> dict:
        d = asdict(self)
        d["horizons"] = {str(h): asdict(r) for h, r in self.horizons.items()}
        d["k_range"] = list(self.k_range)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> BarrierOptimizationResult:
        try:
            horizons = {
                int(h): HorizonBarriers(**{**r, "score": BarrierScore(**r["score"])})
                for h, r in d["horizons"].items()
            }
            return cls(
                horizons=horizons,
                k_range=(float(d["k_range"][0]), float(d["k_range"][1])),
                cost_points=float(d["cost_points"]),
                train_end_ns=int(d["train_end_ns"]),
                seed=int(d["seed"]),
                symmetric=bool(d["symmetric"]),
                objective=str(d["objective"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"barrier optimisation result: malformed or incomplete record ({exc!r})"
            ) from exc


def _at_bound(k: float, lo: float, hi: float) -> bool:
    span = np.log(hi) - np.log(lo)
    return bool(
        np.log(k) - np.log(lo) <= BOUND_TOLERANCE * span or np.log(hi) - np.log(k) <= BOUND_TOLERANCE * span
    )


def _check_config(horizons: Sequence[int], k_range: tuple[float, float], n_trials: int) -> None:
    lo, hi = k_range
    if not (np.isfinite(lo) and np.isfinite(hi) and 0 < lo < hi):
        raise ConfigError(f"k_range: expected (low, high) with 0 < low < high, got {k_range!r}")
    if not horizons or len(set(horizons)) != len(horizons):
        raise ConfigError(f"horizons: expected a non-empty list of distinct integers, got {list(horizons)!r}")
    if not isinstance(n_trials, int) or n_trials < 1:
        raise ConfigError(f"n_trials: expected an integer >= 1, got {n_trials!r}")


def optimize_barriers(
    decision_ts: np.ndarray,
    decision_close: np.ndarray,
    atr: np.ndarray,
    minute_ts: np.ndarray,
    minute_open: np.ndarray,
    minute_high: np.ndarray,
    minute_low: np.ndarray,
    minute_close: np.ndarray,
    *,
    horizons: Sequence[int],
    train_end_ns: int,
    instrument: Instrument,
    max_gap_ns: int,
    seed: int,
    n_trials: int = 50,
    k_range: tuple[float, float] = (0.25, 6.0),
    symmetric: bool = False,
    min_rows: int = 100,
    minute_segment: np.ndarray | None = None,
) -> BarrierOptimizationResult:
    """Search ``k_up``, ``k_down`` per horizon on rows at or before ``train_end_ns`` (module docstring)."""
    import optuna  # imported here: it is slow to import and only this function needs it

    horizons = [int(h) for h in horizons]
    _check_config(horizons, k_range, n_trials)
    if isinstance(train_end_ns, bool) or not isinstance(train_end_ns, int | np.integer):
        raise ConfigError(
            f"train_end_ns: expected an int64 ns timestamp (end of training), got {train_end_ns!r}"
        )
    cost_points = instrument.round_trip_cost_points()
    decision_ts = as_timestamps(decision_ts, "decision_ts")
    minute_ts = as_timestamps(minute_ts, "minute_ts")
    arrays = {"decision_close": decision_close, "atr": atr, "minute_open": minute_open}
    arrays |= {"minute_high": minute_high, "minute_low": minute_low, "minute_close": minute_close}
    for name, a in arrays.items():
        want = decision_ts.shape if name in ("decision_close", "atr") else minute_ts.shape
        if np.shape(a) != want:
            raise DataError(f"{name}: expected shape {want} to match its timestamps, got {np.shape(a)}")
    d_rows = decision_ts <= train_end_ns
    m_rows = minute_ts <= train_end_ns
    if d_rows.sum() < min_rows:
        raise DataError(
            f"train_end_ns: only {int(d_rows.sum())} decisions at or before it (need >= {min_rows}); "
            "the training period is too short to choose barriers"
        )
    inputs = prepare_label_inputs(
        decision_ts[d_rows],
        np.asarray(decision_close)[d_rows],
        np.asarray(atr)[d_rows],
        minute_ts[m_rows],
        np.asarray(minute_open)[m_rows],
        np.asarray(minute_high)[m_rows],
        np.asarray(minute_low)[m_rows],
        np.asarray(minute_close)[m_rows],
        max_gap_ns,
        max(horizons),
        None if minute_segment is None else np.asarray(minute_segment)[m_rows],
    )
    lo, hi = k_range

    def evaluate(h: int, k_up: float, k_down: float) -> BarrierScore:
        labels = triple_barrier_from_inputs(inputs, h, k_up, k_down)
        ok = labels.valid
        return barrier_objective(labels.label[ok], labels.ret[ok], inputs.decision_close[ok], cost_points)

    results: dict[int, HorizonBarriers] = {}
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        for h in horizons:

            def objective(trial: optuna.Trial, h: int = h) -> float:
                k_up = trial.suggest_float("k_up", lo, hi, log=True)
                k_down = k_up if symmetric else trial.suggest_float("k_down", lo, hi, log=True)
                return evaluate(h, k_up, k_down).score

            study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
            study.optimize(objective, n_trials=n_trials)
            k_up = float(study.best_params["k_up"])
            k_down = k_up if symmetric else float(study.best_params["k_down"])
            score = evaluate(h, k_up, k_down)
            if score.n_rows < min_rows:
                raise DataError(
                    f"horizon {h}: only {score.n_rows} valid training labels (need >= {min_rows}); "
                    "check max_gap_ns and the training period"
                )
            results[h] = HorizonBarriers(
                horizon=h,
                k_up=k_up,
                k_down=k_down,
                score=score,
                n_trials=n_trials,
                k_up_at_bound=_at_bound(k_up, lo, hi),
                k_down_at_bound=_at_bound(k_down, lo, hi),
            )
    finally:
        optuna.logging.set_verbosity(verbosity)
    return BarrierOptimizationResult(
        horizons=results,
        k_range=(float(lo), float(hi)),
        cost_points=float(cost_points),
        train_end_ns=int(train_end_ns),
        seed=int(seed),
        symmetric=bool(symmetric),
    )
