"""Short histories: on one month of bars, no indicator or MTF timeframe costs more than
``features.max_warmup_share`` (10 %) of the training rows; what is left out is recorded with its
reason, and every default tabular model covers >= 90 % of the training decisions and every fold of
a 3-fold purged CV.
"""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import polars as pl
import pytest

from mlfactory.config import load_pipeline_config
from mlfactory.data.instruments import get_instrument
from mlfactory.data.synthetic import generate_bars
from mlfactory.models.config import load_model_config
from mlfactory.pipeline import run_pipeline
from mlfactory.run_data import RunData
from mlfactory.training.cv_plan import CVPlan
from mlfactory.training.model_data import build_model_data

SHARE = 0.10
TABULAR_DEFAULTS = ("catboost", "lightgbm", "xgboost", "logistic", "random_forest", "ridge", "svm")


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("month")
    path = tmp / "month.parquet"
    generate_bars(31_000, start=date(2024, 3, 4), seed=1).write_parquet(path)  # 2024-03-04 .. 04-03
    mes = get_instrument("MES")
    short = run_pipeline(path, mes, load_pipeline_config(None), tmp / "run")
    lax = run_pipeline(
        path, mes, load_pipeline_config(None, {"features": {"max_warmup_share": 1.0}}), tmp / "run_lax"
    )
    return short, lax


def _train_rows(result, tf: str) -> pl.DataFrame:
    frame = pl.read_parquet(result.run.features_path(tf))
    splits = json.loads(result.run.splits_path.read_text())
    return frame.filter(pl.col("timestamp").dt.epoch("ns") < splits["val_start_ns"])


def test_left_out_inputs_are_recorded_and_the_kept_ones_fit_the_budget(month):
    short, _ = month
    features = short.manifest["features"]
    assert short.manifest["config"]["features"]["max_warmup_share"] == SHARE
    for tf in ("5m", "15m", "1h"):
        rec = features[tf]
        assert "4h" in rec["mtf_skipped"] and "max_warmup_share" in rec["mtf_skipped"]["4h"]
        train = _train_rows(short, tf)
        assert (~train["warm"]).mean() <= SHARE  # the own indicators kept
        for h in [c.removeprefix("warm__") for c in train.columns if c.startswith("warm__")]:
            assert (~train[f"warm__{h}"]).mean() <= SHARE, (tf, h)
        for name, why in rec["warmup_skipped"].items():
            assert name not in train.columns and "max_warmup_share" in why
    assert "30m" not in features["15m"]["mtf_skipped"]  # a cheap MTF timeframe stays
    assert features["15m"]["warmup_skipped"]  # 200-bar indicators on 15m: ~30 % of one month's training rows


def test_default_tabular_models_cover_every_fold_of_a_3_fold_cv(month):
    short, lax = month
    data = RunData(short.run.root)
    plan = CVPlan.for_run(data, 10, n_splits=3)
    train_ts = plan.clock.ts
    assert len(plan.folds) == 3
    for name in TABULAR_DEFAULTS:
        md = build_model_data(data, load_model_config(name), data.clock(10))
        rows = md.timestamps[md.split == "train"]
        assert rows.size >= 0.9 * train_ts.size, (name, md.coverage)
        for fold in plan.folds:
            assert np.isin(train_ts[fold.test_idx], rows).mean() >= 0.7, (name, fold.fold_id)
    # without the rule the 4h indicators' warm-up eats most of the first fold
    lax_data = RunData(lax.run.root)
    lax_md = build_model_data(lax_data, load_model_config("catboost"), lax_data.clock(10))
    lax_rows = lax_md.timestamps[lax_md.split == "train"]
    assert np.isin(train_ts[plan.folds[0].test_idx], lax_rows).mean() < 0.5


def test_standard_recipe_bases_share_90_percent_of_their_training_rows(month):
    """The stacked matrix keeps the rows every base predicts: on one month they must overlap."""
    from mlfactory.training.recipes import load_recipe

    short, _ = month
    data = RunData(short.run.root)
    clock = data.clock(10)
    rows = []
    for name in load_recipe("standard").bases:
        md = build_model_data(data, load_model_config(name), clock)
        rows.append(md.timestamps[md.split == "train"])
    common = rows[0]
    for r in rows[1:]:
        common = np.intersect1d(common, r)
    assert common.size >= 0.9 * clock.rows("train").size, [r.size for r in rows]
