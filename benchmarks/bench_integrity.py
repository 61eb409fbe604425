"""Benchmark: what the integrity checks cost when a model or a run file is opened.

Run: ``.venv/bin/python benchmarks/bench_integrity.py [--rows 20000] [--features 100] [--trees 300]``.
Prints wall seconds for: the LightGBM structural check against LightGBM's own load; the child-process
probe of an XGBoost and a CatBoost file (cold, without the remembered verdict) against an in-process
load; a remembered probe; and sha256 throughput (what the manifest and stage-cache checks pay per MB).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from mlfactory.adapters.views import TabularView
from mlfactory.artifacts import sha256_file
from mlfactory.models.base import Dataset
from mlfactory.models.registry import get_model_class
from mlfactory.models.tabular import native_check


def _timed(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def _dataset(rows: int, features: int) -> Dataset:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, features)).astype(np.float32)
    z = x[:, 0] + rng.normal(scale=2, size=rows)
    y = np.digitize(z, [-0.5, 0.5]).astype(np.int8) - 1  # three classes
    ts = np.arange(rows, dtype=np.int64) * 60_000_000_000
    return Dataset(TabularView(x, ts, tuple(f"f{i}" for i in range(features))), y)


def _bench_model(name: str, data: Dataset, trees: int, tmp: Path) -> None:
    model = get_model_class(name)({"n_estimators": trees}, seed=0).fit(data)
    d = tmp / name
    model.save(d)
    native = next(p for p in d.iterdir() if p.name.startswith("model."))
    print(f"{name}: {native.name} {native.stat().st_size / 1e6:.2f} MB")
    n_features = len(model.feature_names_)
    if name == "lightgbm":
        import lightgbm as lgb

        n_classes = len(model.classes_)
        check = _timed(
            lambda: native_check.check_lightgbm_text(native, n_classes=n_classes, n_features=n_features)
        )
        load = _timed(lambda: lgb.Booster(model_file=str(native)))
        print(f"  structural check {check:.4f} s, LightGBM load {load:.4f} s")
    else:

        def cold_probe() -> None:
            native_check._PROBED.clear()
            for f in (tmp / "cache" / "native-ok").glob("*"):
                f.unlink()
            native_check.probe_in_child(native, name, n_features)

        cold = _timed(cold_probe, repeat=2)
        warm = _timed(lambda: native_check.probe_in_child(native, name, n_features))
        print(f"  child probe cold {cold:.3f} s, remembered {warm:.4f} s")
    full = _timed(lambda: get_model_class(name).load(d))
    print(f"  Model.load with manifest verification (probe remembered) {full:.4f} s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--features", type=int, default=100)
    ap.add_argument("--trees", type=int, default=300)
    args = ap.parse_args()
    data = _dataset(args.rows, args.features)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MLFACTORY_CACHE_DIR"] = str(Path(tmp) / "cache")
        for name in ("lightgbm", "xgboost", "catboost"):
            _bench_model(name, data, args.trees, Path(tmp))
        big = Path(tmp) / "big.bin"
        big.write_bytes(os.urandom(64 * 1024 * 1024))
        secs = _timed(lambda: sha256_file(big), repeat=2)
        print(f"sha256: {64 / secs:.0f} MB/s")


if __name__ == "__main__":
    main()
