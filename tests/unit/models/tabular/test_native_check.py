"""Saved model directories refuse every edit: files, feature order, hand-edited native model files.

A hand-edited LightGBM ``model.txt`` whose hash was recomputed used to abort the process (SIGABRT)
and a truncated one to segfault; every case here must end as an ``ArtifactError`` in a process that
keeps running.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from mlfactory.adapters.views import TabularView
from mlfactory.artifacts import MANIFEST, read_file_manifest, write_file_manifest
from mlfactory.errors import ArtifactError, DataError
from mlfactory.models.base import Dataset
from mlfactory.models.registry import get_model_class

TINY = {
    "lightgbm": {"n_estimators": 5, "num_leaves": 7},
    "xgboost": {"n_estimators": 5},
    "catboost": {"n_estimators": 5},
}


@pytest.fixture(scope="module")
def saved(
    planted: tuple[Dataset, Dataset, Dataset], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    train, val, _ = planted
    out = {}
    for name, params in TINY.items():
        model = get_model_class(name)(params, seed=1).fit(train, val)
        out[name] = tmp_path_factory.mktemp(name) / "model"
        model.save(out[name], generation="gen-a")
    return out


def _copy(src: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(src, tmp_path / "m"))


def _rehash(directory: Path) -> None:
    """What an attacker or a careless edit does: recompute the manifest after changing a file."""
    write_file_manifest(directory, generation=read_file_manifest(directory)["generation"])


def _lightgbm_edits(text: str) -> dict[str, str]:
    first_tree = text.index("Tree=0")
    return {
        "truncated_half": text[: len(text) // 2],
        "truncated_header": text[:200],
        "truncated_in_tree": text[: first_tree + 300],
        "num_leaves_same_length": text.replace("num_leaves=7", "num_leaves=9", 1),
        "num_leaves_longer": text.replace("num_leaves=7", "num_leaves=70", 1),
        "split_feature_out_of_range": re.sub(r"split_feature=(\d+)", "split_feature=9", text, count=1),
        "child_out_of_range": re.sub(r"left_child=(-?\d+)", "left_child=55", text, count=1),
        "leaf_value_dropped": re.sub(r"leaf_value=\S+ ", "leaf_value=", text, count=1),
        "threshold_garbage": re.sub(r"threshold=\S+", "threshold=abc", text, count=1),
        "threshold_nan": re.sub(r"threshold=\S+", "threshold=nan", text, count=1),
        "tree_sizes_edited": re.sub(r"tree_sizes=(\d+)", "tree_sizes=9999", text, count=1),
        "num_class_changed": text.replace("num_class=3", "num_class=5", 1),
        "num_tree_per_iteration_changed": text.replace(
            "num_tree_per_iteration=3", "num_tree_per_iteration=4", 1
        ),
        "max_feature_idx_changed": text.replace("max_feature_idx=7", "max_feature_idx=2", 1),
        "decision_type_invalid": re.sub(r"decision_type=(\d+)", "decision_type=15", text, count=1),
        "trailer_removed": text.replace("end of trees", "end of tree", 1),
        "not_utf8": text[:100] + "\udcff" + text[101:],
    }


LGB_EDITS = list(_lightgbm_edits("tree\nnum_class=3\nTree=0\n"))


@pytest.mark.parametrize("edit", LGB_EDITS)
def test_hand_edited_lightgbm_model_is_an_artifact_error(saved, tmp_path: Path, edit: str) -> None:
    d = _copy(saved["lightgbm"], tmp_path)
    text = (d / "model.txt").read_text()
    edited = _lightgbm_edits(text)[edit]
    assert edited != text, edit
    (d / "model.txt").write_bytes(edited.encode("utf-8", "surrogateescape"))
    with pytest.raises(ArtifactError, match=r"changed|does not match"):
        get_model_class("lightgbm").load(d)  # the hash check alone
    _rehash(d)
    with pytest.raises(ArtifactError, match=r"model\.txt: not a valid model file"):
        get_model_class("lightgbm").load(d)


@pytest.mark.parametrize("name", ["xgboost", "catboost"])
@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_truncated_binary_models_are_refused_in_a_child_first(
    saved, tmp_path: Path, name: str, cut: float
) -> None:
    d = _copy(saved[name], tmp_path)
    native = next(p for p in d.iterdir() if p.name.startswith("model."))
    data = native.read_bytes()
    native.write_bytes(data[: int(len(data) * cut)])
    _rehash(d)
    with pytest.raises(ArtifactError, match="not a valid model file"):
        get_model_class(name).load(d)


@pytest.mark.parametrize("name", list(TINY))
def test_untouched_models_load_and_predict_alike(saved, planted, name: str) -> None:
    _, _, test = planted
    model = get_model_class(name).load(saved[name])
    assert read_file_manifest(saved[name])["generation"] == "gen-a"
    p = model.predict_proba(test.x)
    assert p.shape == (len(test), 3) and np.allclose(p.sum(axis=1), 1)


@pytest.mark.parametrize("name", list(TINY))
def test_reordered_or_renamed_features_are_refused(saved, planted, name: str) -> None:
    _, _, test = planted
    model = get_model_class(name).load(saved[name])
    x = test.x
    names = tuple(x.feature_names)
    reordered = TabularView(x.x[:, ::-1].copy(), x.timestamps, names[::-1])
    with pytest.raises(DataError, match="another order"):
        model.predict_proba(reordered)
    renamed = TabularView(x.x, x.timestamps, ("other", *names[1:]))
    with pytest.raises(DataError, match="column 0 is 'other'"):
        model.predict_proba(renamed)


@pytest.mark.parametrize(
    "edit", ["meta_feature_order", "params_json", "extra_file", "manifest_escape", "manifest_old_format"]
)
def test_model_directory_edits_are_refused(saved, tmp_path: Path, edit: str) -> None:
    d = _copy(saved["lightgbm"], tmp_path)
    if edit == "meta_feature_order":
        meta = json.loads((d / "meta.json").read_text())
        meta["feature_names"] = meta["feature_names"][::-1]
        (d / "meta.json").write_text(json.dumps(meta))
    elif edit == "params_json":
        (d / "params.json").write_text(
            (d / "params.json").read_text().replace('"num_leaves": 7', '"num_leaves": 8')
        )
    elif edit == "extra_file":
        (d / "routing.json").write_text("{}")
    elif edit == "manifest_escape":
        manifest = json.loads((d / MANIFEST).read_text())
        manifest["files"]["../../etc/passwd"] = manifest["files"].pop("model.txt")
        (d / MANIFEST).write_text(json.dumps(manifest))
    elif edit == "manifest_old_format":
        manifest = json.loads((d / MANIFEST).read_text())
        (d / MANIFEST).write_text(json.dumps(manifest["files"]))
    with pytest.raises(ArtifactError):
        get_model_class("lightgbm").load(d)


def test_clean_verdict_is_content_addressed_and_remembered(saved, tmp_path: Path, monkeypatch) -> None:
    from mlfactory.models.tabular import native_check

    monkeypatch.setenv("MLFACTORY_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(native_check, "_PROBED", {})
    get_model_class("xgboost").load(saved["xgboost"])
    (verdict,) = (tmp_path / "cache" / "native-ok").iterdir()
    assert verdict.name.startswith(read_file_manifest(saved["xgboost"])["files"]["model.ubj"])
