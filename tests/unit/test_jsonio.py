"""Strict JSON: no bare NaN/Infinity anywhere; null with the reason beside it; corrupt files named."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from mlfactory.errors import ArtifactError
from mlfactory.jsonio import dumps, metric_reason, read_json, read_parquet, rebuild_hint, write_json


def _strict_load(text: str):
    return json.loads(text, parse_constant=lambda t: pytest.fail(f"bare {t}"))


def test_non_finite_values_become_null_with_a_reason():
    obj = {"sharpe": float("nan"), "pf": np.float64(np.inf), "n": np.int64(3), "arr": np.array([1.0, np.nan])}
    out = _strict_load(dumps(obj, reasons={"sharpe": "no trades"}))
    assert out == {
        "sharpe": None, "sharpe_reason": "no trades", "pf": None, "pf_reason": "infinite", "n": 3,
        "arr": [1.0, None],
    }  # fmt: skip


def test_an_explicit_reason_already_present_is_kept():
    out = _strict_load(dumps({"x": math.nan, "x_reason": "mine"}))
    assert out == {"x": None, "x_reason": "mine"}


def test_nested_and_finite_values_pass_unchanged():
    obj = {"a": {"b": [1, 2.5, {"c": -math.inf}]}, "d": "t", "e": None, "f": True}
    out = _strict_load(dumps(obj))
    assert out == {"a": {"b": [1, 2.5, {"c": None, "c_reason": "infinite"}]}, "d": "t", "e": None, "f": True}


def test_write_and_read_back(tmp_path):
    path = write_json(tmp_path / "m" / "metrics.json", {"v": float("nan")})
    assert read_json(path) == {"v": None, "v_reason": "not a number"}


def test_reading_a_bare_nan_or_truncated_file_is_an_artifact_error(tmp_path):
    path = tmp_path / "metrics.json"
    for text in ('{"v": NaN}', '{"v": 1'):
        path.write_text(text)
        with pytest.raises(ArtifactError, match=r"metrics\.json"):
            read_json(path)


def test_rebuild_hint_names_the_command_for_the_artifact(tmp_path):
    (tmp_path / "manifest.json").write_text("{}")
    assert "pipeline run" in rebuild_hint(tmp_path / "labels" / "h10.parquet")
    assert "mlfactory train --run" in rebuild_hint(tmp_path / "models" / "xgboost_h10" / "metrics.json")
    assert "--model xgboost --horizon 10" in rebuild_hint(
        tmp_path / "models" / "xgboost_h10" / "metrics.json"
    )
    assert "train-ensemble" in rebuild_hint(tmp_path / "ensembles" / "abc" / "bundle.json")


def test_truncated_parquet_is_an_artifact_error(tmp_path):
    import polars as pl

    path = tmp_path / "x.parquet"
    pl.DataFrame({"a": list(range(1000))}).write_parquet(path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ArtifactError, match=r"x\.parquet: Parquet file is unreadable or corrupt"):
        read_parquet(path)
    with pytest.raises(ArtifactError, match="not found"):
        read_parquet(Path(tmp_path / "nope.parquet"))


def test_metrics_reasons_say_which_denominator_was_zero():
    out = _strict_load(dumps({"profit_factor": math.inf, "sortino": math.nan, "x": -math.inf}, metric_reason))
    assert out["profit_factor_reason"] == "infinite: no losing trade (gross loss 0)"
    assert out["sortino_reason"] == "not a number"
    assert out["x_reason"] == "infinite"
