"""The run manifest is parsed into a pydantic model; wrong types are an ArtifactError naming the file."""

from __future__ import annotations

import pytest

from mlfactory.errors import ArtifactError
from mlfactory.run_dir import RunDir


def _good() -> dict:
    from mlfactory.config import PipelineConfig

    return {
        "mlfactory": "run", "symbol": "MES", "instrument": {"symbol": "MES"},
        "input": {"path": "x.parquet", "sha256": "ab", "bytes": 10},
        "config": PipelineConfig().model_dump(mode="json"), "seed": 42, "stages": {},
    }  # fmt: skip


def test_a_valid_manifest_is_returned_unchanged(tmp_path):
    import json

    (tmp_path / "manifest.json").write_text(json.dumps(_good()))
    assert RunDir(tmp_path).require() == _good()


@pytest.mark.parametrize(
    ("patch", "key"),
    [({"seed": -1}, "seed"), ({"seed": 2**40}, "seed"), ({"input": []}, "input"), ({"stages": [1]}, "stages"),
     ({"config": {"labels": {"horizons": "x"}}}, "config.labels.horizons")],
)  # fmt: skip
def test_wrong_types_name_the_key_and_the_fix(tmp_path, patch, key):
    import json

    (tmp_path / "manifest.json").write_text(json.dumps(_good() | patch))
    with pytest.raises(ArtifactError, match=r"manifest\.json: invalid run manifest") as info:
        RunDir(tmp_path).require()
    assert key in str(info.value) and "mlfactory pipeline run" in str(info.value)
