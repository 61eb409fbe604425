"""Pipeline config: defaults, YAML loading, unknown keys and bad values named by dotted key and file."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlfactory.config import load_pipeline_config
from mlfactory.errors import ConfigError
from mlfactory.timeframes import LADDER


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pipeline.yaml"
    path.write_text(text)
    return path


def test_defaults() -> None:
    cfg = load_pipeline_config()
    assert cfg.ladder.base_timeframe == "5m"
    assert cfg.ladder.timeframes == LADDER
    assert cfg.ladder.resolved_mtf_timeframes == LADDER[1:]
    assert "5m" not in cfg.ladder.resolved_mtf_timeframes
    assert cfg.ladder.partial_bars == "drop"
    assert cfg.data.stamp is None and cfg.data.format == "auto"
    assert cfg.data.timezone is None
    assert cfg.data.validation.duplicates == "drop"


def test_empty_file_is_the_defaults(tmp_path: Path) -> None:
    assert load_pipeline_config(_write(tmp_path, "")) == load_pipeline_config()


@pytest.mark.parametrize("base", ["15m", "1h", "4h"])
def test_default_mtf_follows_the_base(tmp_path: Path, base: str) -> None:
    cfg = load_pipeline_config(_write(tmp_path, f"ladder:\n  base_timeframe: {base}\n"))
    mtf = cfg.ladder.resolved_mtf_timeframes
    assert base not in mtf
    assert mtf == tuple(tf for tf in LADDER if LADDER.index(tf) > LADDER.index(base))


@pytest.mark.parametrize(
    ("yaml_text", "pattern"),
    [
        (
            "ladder:\n  base_timeframe: 5m\n  mtf_timeframes: [5m, 1h]\n",
            r"ladder\.mtf_timeframes: '5m' is not strictly coarser",
        ),
        (
            "ladder:\n  base_timeframe: 1h\n  mtf_timeframes: [15m]\n",
            r"ladder\.mtf_timeframes: '15m' is not strictly coarser",
        ),
        ("ladder:\n  base_timeframe: 7m\n", r"ladder\.base_timeframe: unknown timeframe '7m'"),
        ("ladder:\n  timeframes: [5m, 3h]\n", r"ladder\.timeframes: unknown timeframe '3h'"),
        ("ladder:\n  partial_bars: keep\n", r"ladder\.partial_bars"),
        ("data:\n  stamp: middle\n", r"data\.stamp"),
        ("data:\n  validation:\n    out_of_order: drop\n", r"out_of_order: policy 'drop' is not allowed"),
        ("data:\n  validation:\n    spike_z: -1\n", r"data\.validation\.spike_z"),
    ],
)
def test_bad_values_name_the_field_and_file(tmp_path: Path, yaml_text: str, pattern: str) -> None:
    path = _write(tmp_path, yaml_text)
    with pytest.raises(ConfigError, match=pattern) as info:
        load_pipeline_config(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("yaml_text", "key"),
    [
        ("ladder:\n  base_timefram: 5m\n", "ladder.base_timefram"),
        ("data:\n  validation:\n    duplicate: drop\n", "data.validation.duplicate"),
        ("seeed: 3\n", "seeed"),
    ],
)
def test_unknown_keys_name_the_dotted_key_and_file(tmp_path: Path, yaml_text: str, key: str) -> None:
    path = _write(tmp_path, yaml_text)
    with pytest.raises(ConfigError, match=rf"{path}: .*{key}: unknown key"):
        load_pipeline_config(path)


def test_unreadable_configs(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_pipeline_config(_write(tmp_path, "ladder: [unclosed\n"))
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_pipeline_config(_write(tmp_path, "- a\n- b\n"))
    with pytest.raises(ConfigError, match="cannot read"):
        load_pipeline_config(tmp_path / "absent.yaml")


def test_overrides_merge_into_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "seed: 3\ndata:\n  validation:\n    zero_volume: drop\n")
    cfg = load_pipeline_config(path, {"data": {"validation": {"duplicates": "repair"}, "timezone": "UTC"}})
    assert cfg.seed == 3
    assert cfg.data.validation.zero_volume == "drop"
    assert cfg.data.validation.duplicates == "repair"
    assert cfg.data.timezone == "UTC"


def test_shipped_pipeline_yaml_spells_out_exactly_the_defaults() -> None:
    from pathlib import Path

    from mlfactory.config import PipelineConfig, load_pipeline_config

    path = Path(__file__).resolve().parents[2] / "configs" / "pipeline.yaml"
    assert load_pipeline_config(path) == PipelineConfig()
