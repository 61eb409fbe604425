"""Per-decision net-of-cost Sharpe, the run's trial registry, and the deflated Sharpe against every trial."""

from __future__ import annotations

import json
import math
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

from mlfactory.errors import ArtifactError, DataError
from mlfactory.evaluation.overfitting import deflated_sharpe_ratio
from mlfactory.evaluation.trials import (
    TRIALS_FILE,
    Trial,
    decision_net_returns,
    decision_sides,
    decision_trial,
    deflated_sharpe_in_run,
    entry_prices,
    read_trials,
    record_decision_trial,
    record_trial,
)


def test_net_returns_by_hand(instrument):
    # ES: round trip 0.70 pt; at entry 3500 the cost is 0.0002 of notional per contract traded
    proba = np.array([[0.1, 0.2, 0.7], [0.6, 0.3, 0.1], [0.2, 0.5, 0.3]])  # long, short, flat
    np.testing.assert_array_equal(decision_sides(proba), [1.0, -1.0, 0.0])
    r = decision_net_returns(proba, np.array([0.001, 0.002, 0.05]), np.full(3, 3500.0), instrument)
    np.testing.assert_allclose(r, [0.001 - 0.0002, -0.002 - 0.0002, 0.0])
    sized = decision_net_returns(
        np.array([0.5, -2.0]), np.array([0.01, -0.01]), np.full(2, 7000.0), instrument
    )
    np.testing.assert_allclose(sized, [0.005 - 0.00005, 0.02 - 0.0002])


def test_net_returns_reject_misaligned_or_bad_prices(instrument):
    with pytest.raises(DataError, match="one of each"):
        decision_net_returns(np.ones(3), np.ones(2), np.ones(3), instrument)
    with pytest.raises(DataError, match="entry_prices"):
        decision_net_returns(np.ones(2), np.ones(2), np.array([100.0, 0.0]), instrument)
    with pytest.raises(DataError, match="n × 3"):
        decision_sides(np.ones((4, 2)))


def test_decision_trial_moments(instrument):
    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(3), size=300)
    ret, entry = rng.normal(0.0, 0.002, 300), rng.uniform(3000, 4000, 300)
    t = decision_trial("models/x_h6", "model", 6, "test", proba, ret, entry, instrument)
    r = decision_net_returns(proba, ret, entry, instrument)
    assert t.sr == pytest.approx(r.mean() / r.std(ddof=1)) and t.n_obs == 300 and t.horizon == 6


def _trial(i: str, sr: float, n_obs: int = 500) -> Trial:
    return Trial(i, "model", 6, "test", sr, -0.5, 5.0, n_obs)


def test_registry_round_trip_and_last_record_wins(tmp_path):
    assert read_trials(tmp_path) == {}
    record_trial(tmp_path, _trial("models/a_h6", 0.05))
    record_trial(tmp_path, _trial("models/b_h6", 0.02))
    record_trial(tmp_path, _trial("models/a_h6", 0.07))  # re-trained
    trials = read_trials(tmp_path)
    assert list(trials) == ["models/a_h6", "models/b_h6"] and trials["models/a_h6"].sr == 0.07
    assert len((tmp_path / TRIALS_FILE).read_text().splitlines()) == 3


def _record_many(args):
    root, k = args
    for j in range(25):
        record_trial(root, _trial(f"p{k}/t{j}", 0.01 * j))


def test_registry_appends_are_atomic_across_processes(tmp_path):
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(_record_many, [(tmp_path, k) for k in range(4)]))
    lines = (tmp_path / TRIALS_FILE).read_text().splitlines()
    assert len(lines) == 100 and all(json.loads(x)["kind"] == "model" for x in lines)
    assert len(read_trials(tmp_path)) == 100


def test_registry_names_a_broken_line(tmp_path):
    (tmp_path / TRIALS_FILE).write_text('{"trial_id": "a"}\n')
    with pytest.raises(ArtifactError, match="line 1"):
        read_trials(tmp_path)


def test_first_trial_is_not_deflated(tmp_path):
    record_trial(tmp_path, _trial("models/a_h6", 0.1))
    d = deflated_sharpe_in_run(read_trials(tmp_path), "models/a_h6")
    assert d["dsr"] is None and d["display"] == "n/a, 1 trial" and d["n_trials"] == 1


def test_dsr_counts_every_trial_whatever_the_order(tmp_path):
    srs = {
        "models/a_h6": 0.08,
        "models/a_h6/trial-1": 0.03,
        "ensembles/e/candidate-meta": -0.01,
        "models/b_h6": 0.05,
    }
    (tmp_path / "fwd").mkdir()
    (tmp_path / "rev").mkdir()
    for name, sr in srs.items():
        record_trial(tmp_path / "fwd", _trial(name, sr))
    for name, sr in reversed(srs.items()):
        record_trial(tmp_path / "rev", _trial(name, sr))
    fwd = deflated_sharpe_in_run(read_trials(tmp_path / "fwd"), "models/a_h6")
    rev = deflated_sharpe_in_run(read_trials(tmp_path / "rev"), "models/a_h6")
    var = float(np.var(list(srs.values()), ddof=1))
    assert fwd["n_trials"] == rev["n_trials"] == 4
    assert fwd["dsr"] == pytest.approx(rev["dsr"])
    assert fwd["dsr"] == pytest.approx(deflated_sharpe_ratio(0.08, 4, var, 500, -0.5, 5.0))
    assert fwd["var_trials_sr"] == pytest.approx(var) and fwd["display"].endswith("(4 trials)")
    assert not math.isnan(fwd["expected_max_sr"])


def test_unknown_trial_is_an_error(tmp_path):
    with pytest.raises(ArtifactError, match="record it first"):
        deflated_sharpe_in_run({}, "models/x")


def test_record_decision_trial_is_decision_trial_recorded(tmp_path, instrument):
    rng = np.random.default_rng(1)
    proba, ret, entry = rng.dirichlet(np.ones(3), size=50), rng.normal(0, 0.002, 50), np.full(50, 3500.0)
    t = record_decision_trial(
        tmp_path, "ensembles/e/candidate-meta", "ensemble_candidate", 6, "test", proba, ret, entry, instrument
    )
    assert read_trials(tmp_path) == {t.trial_id: t}
    assert t == decision_trial(t.trial_id, "ensemble_candidate", 6, "test", proba, ret, entry, instrument)


def test_entry_prices_are_the_decision_bars_close():
    bar_ts = np.array([10, 20, 30, 40], dtype=np.int64)
    close = np.array([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(entry_prices(np.array([20, 40]), bar_ts, close), [2.0, 4.0])
    with pytest.raises(DataError, match="not on the bar clock"):
        entry_prices(np.array([25]), bar_ts, close)
