"""Per-model YAML configs and --param overrides: errors name the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlfactory.errors import ConfigError
from mlfactory.models.base import InputKind, MtfStrategy
from mlfactory.models.config import (
    FloatDim,
    apply_overrides,
    load_model_config,
    model_config_path,
    parse_param_overrides,
)
from mlfactory.models.registry import all_models, get_model_class

TABULAR = sorted(n for n, c in all_models().items() if c.input_kind == InputKind.TABULAR)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "xgboost.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("name", TABULAR)
def test_shipped_config_loads_and_routing_matches_the_class_defaults(name):
    cfg = load_model_config(name)
    cls = get_model_class(name)
    if model_config_path(name).is_file():
        assert cfg.source == str(model_config_path(name))
    assert (cfg.timeframe, cfg.mtf_strategy, cfg.mtf_timeframes, cfg.feature_set) == (
        cls.default_timeframe,
        cls.default_mtf_strategy,
        cls.default_mtf_timeframes,
        cls.default_feature_set,
    )
    assert cfg.params == cls.Params()
    assert set(cls.search_space) <= set(cfg.search_space)


def test_spec_defaults_of_the_tabular_models():
    cat = get_model_class("catboost")
    assert (cat.default_timeframe, cat.default_mtf_strategy) == ("15m", MtfStrategy.MTF_INDICATORS)
    assert cat.default_mtf_timeframes == ("30m", "1h", "4h")
    assert get_model_class("logistic").default_timeframe == "1h"
    for name in ("random_forest", "svm", "logistic"):
        assert get_model_class(name).default_mtf_strategy == MtfStrategy.SINGLE_TF
        assert get_model_class(name).default_feature_set == "engineered"
    for name in ("xgboost", "lightgbm", "catboost"):
        assert get_model_class(name).default_feature_set == "engineered_mtf"


def test_empty_file_takes_class_defaults(tmp_path):
    cfg = load_model_config("xgboost", _write(tmp_path, ""))
    assert cfg.params.n_estimators == get_model_class("xgboost").Params().n_estimators
    assert cfg.timeframe == "15m"


def test_params_are_typed(tmp_path):
    cfg = load_model_config(
        "xgboost", _write(tmp_path, "params:\n  n_estimators: 123\n  learning_rate: 0.2\n")
    )
    assert cfg.params.n_estimators == 123
    assert cfg.params.learning_rate == 0.2


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("colour: red\n", "colour: unknown key"),
        ("params:\n  n_trees: 5\n", "params.n_trees: unknown key"),
        ("params:\n  n_estimators: 0\n", "params.n_estimators"),
        ("params:\n  learning_rate: fast\n", "params.learning_rate"),
        ("params:\n  class_weight: auto\n", "params.class_weight"),
        ("timeframe: 7m\n", "timeframe"),
        ("mtf_strategy: sometimes\n", "mtf_strategy"),
        ("mtf_timeframes: [5m]\n", "mtf_timeframes: '5m' is not strictly coarser"),
        ("mtf_timeframes: [1h, 1h]\n", "mtf_timeframes: '1h' is listed twice"),
        ("mtf_strategy: single_tf\n", "mtf_timeframes"),
        ("mtf_timeframes: []\n", "mtf_timeframes: empty"),
        ("feature_set: ''\n", "feature_set"),
        ("search_space:\n  depth_of_tree: {type: int, low: 2, high: 5}\n", "search_space.depth_of_tree"),
        ("search_space:\n  max_depth: {type: int, low: 5, high: 2}\n", "search_space.max_depth"),
        (
            "search_space:\n  learning_rate: {type: float, low: 0.1, high: 3.0}\n",
            "search_space.learning_rate",
        ),
        ("search_space:\n  learning_rate: {type: gaussian}\n", "search_space.learning_rate"),
        ("- just\n- a list\n", "top level must be a mapping"),
        ("params: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_key_or_value_names_file_and_key(tmp_path, text, key):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_model_config("xgboost", path)
    assert str(path) in str(info.value)
    assert key in str(info.value)


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(ConfigError, match=r"nope\.yaml: model config not found"):
        load_model_config("xgboost", tmp_path / "nope.yaml")


def test_unknown_model_is_refused():
    with pytest.raises(ConfigError, match="unknown model 'xgb'"):
        load_model_config("xgb")


def test_yaml_search_space_replaces_code_dimension_by_name(tmp_path):
    path = _write(
        tmp_path, "search_space:\n  learning_rate: {type: float, low: 0.02, high: 0.1, log: true}\n"
    )
    cfg = load_model_config("xgboost", path)
    assert cfg.search_space["learning_rate"] == FloatDim(low=0.02, high=0.1, log=True)
    assert cfg.search_space["max_depth"] == get_model_class("xgboost").search_space["max_depth"]


def test_parse_param_overrides_types_values_by_the_schema():
    xgb = get_model_class("xgboost")
    out = parse_param_overrides(xgb, ["n_estimators=200", "learning_rate=1e-3", "class_weight=none"])
    assert out == {"n_estimators": 200, "learning_rate": 0.001, "class_weight": "none"}
    assert isinstance(out["n_estimators"], int)
    rf = get_model_class("random_forest")
    assert parse_param_overrides(rf, ["max_depth=null", "max_features=0.3"]) == {
        "max_depth": None,
        "max_features": 0.3,
    }
    assert parse_param_overrides(rf, ["max_features=sqrt"]) == {"max_features": "sqrt"}


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("n_trees=5", "--param n_trees: unknown parameter"),
        ("n_estimators=abc", "n_estimators"),
        ("n_estimators=2.5", "n_estimators"),
        ("n_estimators=-1", "n_estimators"),
        ("n_estimators", "expected KEY=VALUE"),
        ("=5", "expected KEY=VALUE"),
    ],
)
def test_bad_param_override_is_refused_naming_the_key(item, message):
    with pytest.raises(ConfigError, match="--param") as info:
        parse_param_overrides(get_model_class("xgboost"), [item])
    assert message in str(info.value)


def test_apply_overrides_revalidates_routing_and_params():
    cfg = load_model_config("catboost")
    new = apply_overrides(cfg, ["n_estimators=7"], feature_set="engineered")
    assert new.params.n_estimators == 7
    assert new.params.depth == cfg.params.depth
    assert new.feature_set == "engineered"
    assert cfg.params.n_estimators != 7  # the original config is untouched
    with pytest.raises(
        ConfigError, match="mtf_timeframes: '30m' is not strictly coarser than the base timeframe '1h'"
    ):
        apply_overrides(cfg, timeframe="1h")
    moved = apply_overrides(cfg, timeframe="1h", mtf_timeframes=["4h", "1d"])
    assert (moved.timeframe, moved.mtf_timeframes) == ("1h", ("4h", "1d"))
