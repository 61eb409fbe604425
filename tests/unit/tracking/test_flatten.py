"""Flattening nested metrics into MLflow keys: deterministic, finite only, tolerant of new sections."""

from __future__ import annotations

import math

import pydantic
import pytest

from mlfactory.evaluation.report.leaderboard import metric_value
from mlfactory.tracking.flatten import (
    MAX_LIST_ITEMS,
    flatten_metrics,
    flatten_params,
    safe_key,
    unflatten,
)
from mlfactory.tracking.leaderboard import metrics_record


def _metrics() -> dict:
    return {
        "kind": "model",
        "model": "lightgbm",
        "family": "boosting",
        "seed": 7,
        "horizon": 10,
        "classification": {
            "test": {
                "model": {"log_loss": 1.07, "confusion_matrix": [[1, 2], [3, 4]]},
                "prior": {
                    "log_loss": 1.09,
                    "per_class": {"long": {"precision": float("nan"), "recall": None}},
                },
            }
        },
        "trading": {"test": {"strategy": {"sharpe": -1.5, "profit_factor": float("inf")}}},
        "overfitting": {"pbo": {"pbo": 0.25, "candidates": ["a", "b"]}},
        "guard": {"enabled": True, "kept": "meta"},
        "features": [f"f{i}" for i in range(MAX_LIST_ITEMS + 1)],
        "returns": list(range(MAX_LIST_ITEMS + 1)),
        "directory": None,
    }


def test_keys_are_dotted_paths_and_only_numbers() -> None:
    flat = flatten_metrics(_metrics())
    assert flat.metrics == {
        "classification.test.model.confusion_matrix.0.0": 1.0,
        "classification.test.model.confusion_matrix.0.1": 2.0,
        "classification.test.model.confusion_matrix.1.0": 3.0,
        "classification.test.model.confusion_matrix.1.1": 4.0,
        "classification.test.model.log_loss": 1.07,
        "classification.test.prior.log_loss": 1.09,
        "guard.enabled": 1.0,
        "horizon": 10.0,
        "overfitting.pbo.pbo": 0.25,
        "seed": 7.0,
        "trading.test.strategy.sharpe": -1.5,
    }  # strings, None and lists longer than MAX_LIST_ITEMS are not metrics


def test_non_finite_values_are_dropped_and_named() -> None:
    flat = flatten_metrics(_metrics())
    assert flat.dropped == {  # the top-level null ("directory") is an unset field, not a metric
        "classification.test.prior.per_class.long.precision": "nan",
        "classification.test.prior.per_class.long.recall": "null",
        "trading.test.strategy.profit_factor": "inf",
    }
    assert all(math.isfinite(v) for v in flat.metrics.values())
    note = flat.dropped_note()
    assert "3 metric(s)" in note and "trading.test.strategy.profit_factor=inf" in note
    assert flatten_metrics({"a": 1.0}).dropped_note() == ""


def test_same_dict_in_any_key_order_gives_the_same_keys_in_the_same_order() -> None:
    m = _metrics()
    shuffled = {k: m[k] for k in reversed(list(m))}
    shuffled["classification"]["test"] = dict(reversed(list(m["classification"]["test"].items())))
    assert list(flatten_metrics(shuffled).metrics.items()) == list(flatten_metrics(m).metrics.items())


def test_unknown_sections_are_flattened_like_known_ones() -> None:
    m = _metrics() | {"coverage": {"test": {"rows_used": 870, "rows_on_clock": 900}}}
    flat = flatten_metrics(m).metrics
    assert flat["coverage.test.rows_used"] == 870.0 and flat["coverage.test.rows_on_clock"] == 900.0


def test_unsafe_characters_become_underscores() -> None:
    assert safe_key("by_session.asia (UTC+8)") == "by_session.asia _UTC_8_"
    assert flatten_metrics({"p&l": {"µ": 1}}).metrics == {"p_l._": 1.0}
    assert len(safe_key("k" * 400)) == 250


def test_pydantic_models_are_read_like_dicts() -> None:
    class Split(pydantic.BaseModel):
        log_loss: float
        n: int

    class Metrics(pydantic.BaseModel):
        test: Split

    assert flatten_metrics(Metrics(test=Split(log_loss=1.0, n=5))).metrics == {
        "test.log_loss": 1.0,
        "test.n": 5.0,
    }


def test_unflatten_gives_the_leaderboard_the_same_values() -> None:
    m = _metrics()
    tags = {"kind": "model", "model": "lightgbm", "family": "boosting"}
    nested = metrics_record(tags, flatten_metrics(m).metrics)
    for metric in ("log_loss", "sharpe", "pbo"):
        assert metric_value(nested, metric, "test") == metric_value(m, metric, "test")
    # dropped (non-finite) values read back as missing
    assert metric_value(nested, "profit_factor", "test") is None


def test_unflatten_prefers_the_subtree_where_a_key_is_also_a_prefix() -> None:
    assert unflatten({"a": 1.0, "a.b": 2.0}) == {"a": {"b": 2.0}}
    assert unflatten({"a.b": 2.0, "a": 1.0}) == {"a": {"b": 2.0}}


def test_params_are_strings_and_scalar_lists_are_joined() -> None:
    params = flatten_params({"n_estimators": 15, "mtf": ["1h", "4h"], "nested": {"lr": 0.1}, "none": None})
    assert params == {"mtf": "1h,4h", "n_estimators": "15", "nested.lr": "0.1", "none": ""}


@pytest.mark.parametrize("size", [6000, 7000])
def test_long_param_values_are_cut_to_mlflows_limit(size: int) -> None:
    value = flatten_params({"p": "x" * size})["p"]
    assert len(value) <= 6000 and (size <= 6000 or value.endswith("(truncated)"))
