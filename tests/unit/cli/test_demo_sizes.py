"""`mlfactory demo` is the light one-minute demo; `--full` keeps the larger demo's sizes unchanged."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from mlfactory.cli.app import app
from mlfactory.demo import DEFAULT, FULL, QUICK, _ensemble_params, demo_size


def test_full_keeps_the_previous_demo():
    assert FULL.bars == 90_000 and FULL.folds == 3
    assert FULL.bases == ("catboost", "tcn", "patchtst")
    assert FULL.tabular == ("n_estimators=150",)
    assert FULL.neural == ("epochs=3", "seq_len=32", "patience=2", "progress=false")
    assert demo_size(full=True) is FULL and demo_size(quick=True) is QUICK


def test_default_is_lighter_but_still_tabular_plus_neural():
    assert demo_size() is DEFAULT
    assert DEFAULT.bars < FULL.bars and len(DEFAULT.bases) < len(FULL.bases)
    params = _ensemble_params(DEFAULT)
    assert "lightgbm.n_estimators=40" in params and "tcn.epochs=1" in params
    assert not any(p.startswith("catboost.") for p in params)


@pytest.mark.parametrize("params", [["--quick", "--full"]])
def test_quick_and_full_exclude_each_other(tmp_path, params):
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path), *params])
    assert result.exit_code == 2 and "exclude each other" in result.stderr
