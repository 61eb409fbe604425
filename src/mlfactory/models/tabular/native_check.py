"""Open native model files so that a malformed one is an ``ArtifactError``, never a dead process.

The hash manifest stops accidental changes, but a hand-edited file whose hash was recomputed (or a
file written by a killed process before atomic writes) still reaches the library's C++ loader,
which aborts (LightGBM: ``terminate called``, SIGABRT) or segfaults on many malformed inputs.

* LightGBM text models are checked by a structural parser before LightGBM sees them (cheap, on the
  hot path): header fields, ``tree_sizes`` against the real byte size of every tree block, array
  lengths against ``num_leaves``, feature and child indices in range, finite numbers, the trailer.
* XGBoost (UBJSON) and CatBoost (``cbm``) files are binary formats without a Python parser here, so
  they are first loaded and used once in a child process; only if the child exits cleanly is the
  file loaded in this process. The verdict is remembered per sha256 for the life of the process.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np

from mlfactory.artifacts import sha256_file
from mlfactory.errors import ArtifactError

_HEADER_INT = ("num_class", "num_tree_per_iteration", "max_feature_idx")
_INTERNAL_ARRAYS = ("split_feature", "threshold", "decision_type", "left_child", "right_child")
_OPTIONAL_INTERNAL = ("split_gain", "internal_value", "internal_weight", "internal_count")
_LEAF_ARRAYS = ("leaf_value",)
_OPTIONAL_LEAF = ("leaf_weight", "leaf_count")
_PROBED: dict[str, None] = {}  # sha256 of native files that loaded cleanly in a child process


def _bad(path: Path, why: str) -> ArtifactError:
    return ArtifactError(
        f"{path}: not a valid model file ({why}); it was truncated or edited — do not load it, retrain the model"
    )


def _numbers(path: Path, where: str, text: str, kind: type = float) -> np.ndarray:
    """The whitespace-separated numbers of one field; refused unless all parse (and floats are finite)."""
    try:
        values = np.array(text.split(), dtype=np.int64 if kind is int else np.float64)
    except (ValueError, OverflowError) as exc:
        raise _bad(path, f"{where}: {exc}") from None
    if kind is not int and not np.isfinite(values).all():
        raise _bad(path, f"{where}: non-finite value")
    return values


def _one_int(path: Path, where: str, text: str) -> int:
    values = _numbers(path, where, text, int)
    if len(values) != 1:
        raise _bad(path, f"{where}: expected one integer")
    return int(values[0])


def _fields(block: str) -> dict[str, str]:
    out = {}
    for line in block.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key] = value
    return out


def check_lightgbm_text(path: Path, *, n_classes: int, n_features: int) -> None:
    """Refuse a LightGBM ``model.txt`` that LightGBM would abort on or that does not fit the model."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise _bad(path, "not UTF-8 text") from None
    if not text.startswith("tree\n") or "\nend of trees\n" not in text:
        raise _bad(path, "missing the 'tree' header or the 'end of trees' trailer")
    first = text.find("\nTree=")
    end = text.index("\nend of trees\n")
    if first < 0 or first > end:
        raise _bad(path, "no trees")
    header = _fields(text[:first])
    for key in (*_HEADER_INT, "tree_sizes", "feature_names"):
        if key not in header:
            raise _bad(path, f"header lacks {key}")
    num_class, per_iter, max_feature = (_one_int(path, k, header[k]) for k in _HEADER_INT)
    if num_class != n_classes or per_iter != num_class:
        raise _bad(
            path,
            f"num_class={num_class}, num_tree_per_iteration={per_iter}; the model has {n_classes} classes",
        )
    if max_feature + 1 != n_features or len(header["feature_names"].split()) != n_features:
        raise _bad(
            path, f"max_feature_idx={max_feature} and its feature names do not match {n_features} features"
        )
    sizes = _numbers(path, "tree_sizes", header["tree_sizes"], int).tolist()
    starts = [m.start() + 1 for m in re.finditer(r"\nTree=\d+\n", text[: end + 1])]
    bounds = [*starts, end + 1]
    actual = [bounds[i + 1] - bounds[i] for i in range(len(starts))]
    if actual != sizes or not sizes or len(sizes) % per_iter:
        raise _bad(path, "tree_sizes do not match the tree blocks")
    for i, (a, b) in enumerate(itertools.pairwise(bounds)):
        _check_tree(path, i, text[a:b], max_feature)


def _check_tree(path: Path, i: int, block: str, max_feature: int) -> None:
    f = _fields(block)
    where = f"Tree={i}"
    if f.get("Tree") != str(i) or "num_leaves" not in f:
        raise _bad(path, f"{where}: header")
    leaves = _one_int(path, f"{where} num_leaves", f["num_leaves"])
    if leaves < 1 or f.get("num_cat", "0") != "0" or f.get("is_linear", "0") != "0":
        raise _bad(
            path, f"{where}: num_leaves={leaves}, categorical or linear trees are not produced by mlfactory"
        )
    _numbers(path, f"{where} shrinkage", f.get("shrinkage", "1"))
    for key in (*_LEAF_ARRAYS, *_OPTIONAL_LEAF):
        if key in f or key in _LEAF_ARRAYS:
            if len(_numbers(path, f"{where} {key}", f.get(key, ""))) != leaves:
                raise _bad(path, f"{where}: {key} has not {leaves} values")
    if leaves == 1:
        return
    arrays = {}
    for key in (*_INTERNAL_ARRAYS, *_OPTIONAL_INTERNAL):
        if key in f or key in _INTERNAL_ARRAYS:
            arrays[key] = _numbers(path, f"{where} {key}", f.get(key, ""))
            if len(arrays[key]) != leaves - 1:
                raise _bad(path, f"{where}: {key} has not {leaves - 1} values")
    feature, decision = arrays["split_feature"], arrays["decision_type"]
    if (feature != np.round(feature)).any() or (feature < 0).any() or (feature > max_feature).any():
        raise _bad(path, f"{where}: split_feature outside 0..{max_feature}")
    if (decision != np.round(decision)).any() or (decision < 0).any() or (decision >= 16).any():
        raise _bad(path, f"{where}: invalid decision_type")
    d = decision.astype(np.int64)
    if (d & 1).any() or ((d >> 2) & 3 == 3).any():  # categorical splits, or an unknown missing type
        raise _bad(path, f"{where}: invalid decision_type")
    for key in ("left_child", "right_child"):
        c = arrays[key]
        inner = (c >= 0) & (c < leaves - 1)
        leaf = (c < 0) & (-c - 1 < leaves)
        if (c != np.round(c)).any() or not (inner | leaf).all():
            raise _bad(path, f"{where}: {key} index outside the tree")


def probe_in_child(path: Path, loader: str, n_features: int) -> None:
    """Load ``path`` and predict one row in a child process; refuse the file unless that exits cleanly.

    ``loader`` is ``"xgboost"`` or ``"catboost"``. A crash of the library (signal) or an exception in
    the child becomes an ``ArtifactError``; the parent process survives either way.
    """
    path = Path(path)
    digest = f"{sha256_file(path)}-{loader}-{metadata.version(loader)}"
    verdict = _verdict_dir() / digest
    if digest in _PROBED or verdict.is_file():
        return
    code = _PROBE_CODE[loader]
    try:
        done = subprocess.run(
            [sys.executable, "-c", code, str(path), str(n_features)],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=120,
        )
    except subprocess.TimeoutExpired:
        raise _bad(path, f"{loader} did not finish loading it within 120 s") from None
    if done.returncode != 0:
        how = f"signal {-done.returncode}" if done.returncode < 0 else f"exit {done.returncode}"
        tail = " ".join(done.stderr.strip().splitlines()[-2:])[-300:]
        raise _bad(path, f"{loader} failed to load it in a child process ({how}: {tail})")
    _PROBED[digest] = None
    try:
        verdict.parent.mkdir(parents=True, exist_ok=True)
        verdict.touch()
    except OSError:  # a read-only cache only costs the child start next time
        pass


def _verdict_dir() -> Path:
    root = os.environ.get("MLFACTORY_CACHE_DIR") or Path.home() / ".cache" / "mlfactory"
    return Path(root) / "native-ok"


_PROBE_CODE = {
    "xgboost": (
        "import sys, numpy as np, xgboost as xgb\n"
        "b = xgb.Booster(model_file=sys.argv[1])\n"
        "b.inplace_predict(np.zeros((1, int(sys.argv[2])), dtype=np.float32))\n"
    ),
    "catboost": (
        "import sys, numpy as np\n"
        "from catboost import CatBoostClassifier\n"
        "m = CatBoostClassifier(); m.load_model(sys.argv[1], format='cbm')\n"
        "m.predict_proba(np.zeros((1, int(sys.argv[2])), dtype=np.float32))\n"
    ),
}
