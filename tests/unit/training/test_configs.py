"""`--param` routing: hyper-parameters and routing keys (timeframe, feature set, MTF list) per model."""

from __future__ import annotations

import pytest

from mlfactory.errors import ConfigError
from mlfactory.training.configs import resolve_config, resolve_configs


def test_param_moves_one_base_to_another_timeframe_and_feature_set():
    cfgs = resolve_configs(
        ["lightgbm", "svm"], ["lightgbm.timeframe=5m", "svm.feature_set=raw", "lightgbm.n_estimators=50"]
    )
    assert cfgs["lightgbm"].timeframe == "5m" and cfgs["lightgbm"].params.n_estimators == 50
    assert cfgs["svm"].feature_set == "raw"
    assert cfgs["svm"].timeframe == resolve_config("svm").timeframe  # untouched
    assert cfgs["lightgbm"].feature_set == resolve_config("lightgbm").feature_set


def test_unprefixed_routing_key_applies_to_every_model():
    cfgs = resolve_configs(["logistic", "svm"], ["timeframe=30m"])
    assert {c.timeframe for c in cfgs.values()} == {"30m"}


def test_mtf_timeframes_from_the_command_line():
    cfg = resolve_config("lightgbm", params=["mtf_timeframes=1h,4h"])
    assert cfg.mtf_timeframes == ("1h", "4h")


@pytest.mark.parametrize(
    ("models", "params", "match"),
    [
        (["lightgbm"], ["lightgbm.timeframe=7m"], "7m"),
        (["lightgbm"], ["xgboost.timeframe=5m"], "not among the models"),
        (["lightgbm"], ["no_such_key=1"], "no_such_key"),
        (["lightgbm"], ["lightgbm.feature_set="], "feature"),
    ],
)
def test_bad_overrides_name_the_problem(models, params, match):
    with pytest.raises(ConfigError, match=match):
        resolve_configs(models, params)
