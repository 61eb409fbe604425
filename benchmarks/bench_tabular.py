"""Fit and 5-fold OOF time of every tabular model on data sized like 1M 1-minute bars on a 5m clock.

1M one-minute bars give ~200k decisions on a 5-minute clock; the matrix is ~200k × 150 float32
(~120 MB). Labels are three-class with a weak planted signal and 6-bar label windows; folds are
``purged_kfold`` with a 2-bar embargo, and early stopping uses the inner purged 20 % slice.
Boosting runs ``--n-estimators`` rounds at most (early stopping 10), the forest ``--rf-trees`` trees
on 20 % bootstraps; the rest use their YAML defaults. Usage::

    python benchmarks/bench_tabular.py [--rows 200000] [--features 150] [--models xgboost,svm]
                                       [--n-jobs 1] [--executor processes|inprocess] [--workers 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from mlfactory.adapters.views import TabularView
from mlfactory.models.base import Dataset, Family, InputKind
from mlfactory.models.config import load_model_config
from mlfactory.models.registry import all_models, get_model_class
from mlfactory.runtime.executor import make_executor
from mlfactory.splits import purged_kfold
from mlfactory.training.cv_plan import CVPlan
from mlfactory.training.oof import generate_oof
from mlfactory.training.tuning import cv_log_loss

FIVE_MIN = 300 * 10**9
HORIZON = 6


def synthetic(rows: int, features: int, seed: int) -> tuple[Dataset, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, features), dtype=np.float32)
    score = (
        0.25 * x[:, 0] - 0.2 * x[:, 1] + 0.15 * (x[:, 2] > 1) + rng.standard_normal(rows, dtype=np.float32)
    )
    lo, hi = np.quantile(score, [0.3, 0.7])
    y = np.where(score > hi, 1, np.where(score < lo, -1, 0)).astype(np.int8)
    ts = 1_600_000_000 * 10**9 + np.arange(rows, dtype=np.int64) * FIVE_MIN
    view = TabularView(x, ts, tuple(f"f{i}" for i in range(features)))
    return Dataset(view, y, rng.uniform(0.5, 1.5, rows)), ts + HORIZON * FIVE_MIN


def bench_params(name: str, n_estimators: int, rf_trees: int) -> dict:
    params = load_model_config(name).params.model_dump()
    if name in ("xgboost", "lightgbm", "catboost"):
        params.update(n_estimators=n_estimators, early_stopping_rounds=10, learning_rate=0.1)
    if name == "random_forest":
        params.update(n_estimators=rf_trees, max_samples=0.2)
    return params


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--features", type=int, default=150)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--n-estimators", type=int, default=50)
    ap.add_argument("--rf-trees", type=int, default=20)
    ap.add_argument("--models", default="all")
    ap.add_argument("--n-jobs", type=int, default=1)
    ap.add_argument("--executor", default="processes", choices=["inprocess", "processes"])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    tabular = [
        n
        for n, c in all_models().items()
        if c.input_kind == InputKind.TABULAR and c.family not in (Family.META, Family.ENSEMBLE)
    ]
    names = tabular if args.models == "all" else args.models.split(",")
    ds, t1 = synthetic(args.rows, args.features, args.seed)
    n = len(ds)
    train, val, test = (
        ds.subset(np.arange(a, b))
        for a, b in ((0, int(0.8 * n)), (int(0.8 * n), int(0.9 * n)), (int(0.9 * n), n))
    )
    folds = purged_kfold(ds.timestamps, t1, args.folds, 2 * FIVE_MIN)
    print(
        f"{n} rows x {args.features} float32 features ({ds.x.x.nbytes / 2**20:.0f} MiB); fit: 80% train + 10% val; "
        f"OOF: {args.folds}-fold purged; n_jobs={args.n_jobs}; executor={args.executor}"
        + (f" x{args.workers}" if args.executor == "processes" else "")
    )
    header = f"{'model':<14}{'settings':<34}{'fit s':>8}{'predict s':>11}{'OOF s':>9}{'OOF logloss':>13}{'prior':>8}"
    print(header)
    print("-" * len(header))
    prior = np.bincount(ds.y + 1, minlength=3) / n
    prior_ll = float(-np.log(prior[ds.y + 1]).mean())
    with make_executor(args.executor, args.workers) as executor:
        for name in names:
            cls = get_model_class(name)
            params = bench_params(name, args.n_estimators, args.rf_trees)
            t = time.perf_counter()
            model = cls(params, seed=args.seed, n_jobs=args.n_jobs).fit(train, val)
            fit_s = time.perf_counter() - t
            t = time.perf_counter()
            model.predict_proba(test.x)
            pred_s = time.perf_counter() - t
            t = time.perf_counter()
            plan = CVPlan.from_folds(ds.timestamps, t1, folds, embargo_ns=2 * FIVE_MIN, inner_val_frac=0.2)
            result = generate_oof(cls, params, ds, plan, executor, args.seed, n_jobs=args.n_jobs)
            oof_s = time.perf_counter() - t
            settings = _settings(name, params, model)
            ll = cv_log_loss(result.frame, ds)
            print(
                f"{name:<14}{settings:<34}{fit_s:>8.1f}{pred_s:>11.2f}{oof_s:>9.1f}{ll:>13.4f}{prior_ll:>8.4f}",
                flush=True,
            )


def _settings(name: str, params: dict, model: object) -> str:
    if "n_estimators" in params and name != "random_forest":
        return f"rounds<={params['n_estimators']} (best {getattr(model, 'best_iteration_', -1) + 1})"
    if name == "random_forest":
        return f"{params['n_estimators']} trees, 20% bootstrap"
    if name == "svm":
        return f"{params['kernel']}, {params['n_components']} comps, C={params['C']}"
    if "C" in params:
        return f"C={params['C']}"
    return ", ".join(f"{k}={v}" for k, v in params.items() if k in ("alpha", "class_weight"))


if __name__ == "__main__":
    main()
