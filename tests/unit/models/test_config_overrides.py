"""Model YAMLs hold overrides only: defaults live once, in the code; resolved configs are unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from mlfactory.models.config import load_model_config, model_config_path
from mlfactory.models.registry import all_models, get_model_class
from mlfactory.paths import config_dir

SNAPSHOT = Path(__file__).parent / "data" / "resolved_model_configs.json"
ROUTING = ("timeframe", "mtf_strategy", "mtf_timeframes", "feature_set")


def _resolved(name: str) -> dict:
    c = load_model_config(name)
    return {
        "timeframe": c.timeframe,
        "mtf_strategy": c.mtf_strategy.value,
        "mtf_timeframes": list(c.mtf_timeframes),
        "feature_set": c.feature_set,
        "params": c.params.model_dump(mode="json"),
        "search_space": {k: v.model_dump(mode="json") for k, v in sorted(c.search_space.items())},
    }


@pytest.mark.parametrize("name", sorted(json.loads(SNAPSHOT.read_text())))
def test_resolved_config_equals_the_one_before_yamls_became_overrides(name):
    # The snapshot was taken from the full YAMLs that repeated every code default.
    assert _resolved(name) == json.loads(SNAPSHOT.read_text())[name]


def test_snapshot_covers_every_registered_model():
    assert set(json.loads(SNAPSHOT.read_text())) == set(all_models())


def _code_defaults(name: str) -> dict:
    cls = get_model_class(name)
    return {
        "timeframe": cls.default_timeframe,
        "mtf_strategy": cls.default_mtf_strategy.value,
        "mtf_timeframes": list(cls.default_mtf_timeframes),
        "feature_set": cls.default_feature_set,
        "params": cls.Params().model_dump(mode="json"),
        "search_space": {k: v.model_dump(mode="json") for k, v in getattr(cls, "search_space", {}).items()},
    }


def repeated_defaults(name: str, raw: dict) -> list[str]:
    """Keys of a model YAML whose value equals the code default (they must not be there)."""
    d = _code_defaults(name)
    out = [k for k in ROUTING if k in raw and raw[k] == d[k]]
    out += [f"params.{k}" for k, v in (raw.get("params") or {}).items() if d["params"].get(k) == v]
    for k, v in (raw.get("search_space") or {}).items():
        if k in d["search_space"] and {"log": False, "step": 1, **v} == {"step": 1, **d["search_space"][k]}:
            out.append(f"search_space.{k}")
    return out


def _shipped() -> list[Path]:
    return sorted((config_dir() / "models").glob("*.yaml"))


def test_no_shipped_model_yaml_repeats_a_code_default():
    for path in _shipped():
        assert path.stem in all_models(), f"{path}: no registered model of that name"
        raw = yaml.safe_load(path.read_text()) or {}
        assert raw, f"{path} is empty; delete it (the file is optional)"
        assert repeated_defaults(path.stem, raw) == [], f"{path} repeats code defaults; delete those keys"


def test_the_check_catches_a_repeated_default():
    cls = get_model_class("xgboost")
    raw = {"timeframe": cls.default_timeframe, "params": {"n_estimators": cls.Params().n_estimators}}
    assert repeated_defaults("xgboost", raw) == ["timeframe", "params.n_estimators"]
    assert repeated_defaults("xgboost", {"params": {"n_estimators": cls.Params().n_estimators + 1}}) == []


def test_a_model_without_yaml_takes_its_code_defaults():
    name = "xgboost"
    assert not model_config_path(name).is_file()
    cfg = load_model_config(name)
    assert cfg.params == get_model_class(name).Params()
    assert cfg.source == f"defaults of {name!r}"
