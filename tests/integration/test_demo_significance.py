"""The demo's ensemble on a pure random walk vs planted signal: deflated Sharpe significance (issue 7)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from mlfactory.data.synthetic import generate_bars
from mlfactory.demo import run_demo

SIGNIFICANT = 0.95


def _demo_on(tmp_path: Path, momentum: float, seed: int) -> dict:
    path = tmp_path / f"bars_{momentum}.parquet"
    generate_bars(30_000, start=date(2024, 1, 2), seed=seed, momentum=momentum).write_parquet(path)
    return run_demo(tmp_path / f"demo_{momentum}", path, "MES", quick=True)


@pytest.mark.slow
def test_random_walk_ensemble_is_not_significant(tmp_path: Path) -> None:
    summary = _demo_on(tmp_path, 0.0, seed=101)
    dsr = summary["ensemble_overfitting"]["dsr"]
    print(f"\nrandom walk: ensemble DSR {dsr:.3f}; lines {summary['models']}")
    assert not dsr > SIGNIFICANT, f"a pure random walk gave a significant deflated Sharpe ({dsr:.3f})"
    assert Path(summary["report"]).is_file()


@pytest.mark.slow
def test_planted_signal_ensemble_is_significant(tmp_path: Path) -> None:
    summary = _demo_on(tmp_path, 0.8, seed=101)
    dsr = summary["ensemble_overfitting"]["dsr"]
    print(f"\nplanted momentum: ensemble DSR {dsr:.3f}; lines {summary['models']}")
    assert dsr > SIGNIFICANT, f"planted signal did not give a significant deflated Sharpe ({dsr:.3f})"
