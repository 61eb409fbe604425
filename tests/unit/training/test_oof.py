"""OOF generation: timestamps, fold ids, coverage, nesting, executors and the random-walk null."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from oof_synth import FIVE_MIN, SMALL_PARAMS, planted_dataset, random_walk_dataset
from sklearn.metrics import roc_auc_score

from mlfactory.adapters.views import TabularView
from mlfactory.errors import ConfigError, DataError
from mlfactory.models.base import PROBA_COLUMNS, Dataset, Family, InputKind
from mlfactory.models.registry import all_models, get_model_class
from mlfactory.runtime.executor import InProcessExecutor, LocalProcessExecutor
from mlfactory.splits import combinatorial_purged_cv, purged_kfold, walk_forward
from mlfactory.training.cv_plan import CVPlan
from mlfactory.training.oof import COVERAGE_FILE, generate_oof, plan_fold_jobs, write_oof

TABULAR = sorted(
    n
    for n, c in all_models().items()
    if c.input_kind == InputKind.TABULAR and c.family not in (Family.META, Family.ENSEMBLE)
)
EMBARGO = 2 * FIVE_MIN


def _oof(name, ds, t1, folds, executor=None, **kw):
    cls = get_model_class(name)
    plan = CVPlan.from_folds(
        kw.pop("clock_ts", ds.timestamps), t1, folds, embargo_ns=EMBARGO, inner_val_frac=0.2
    )
    return generate_oof(cls, SMALL_PARAMS[name], ds, plan, executor or InProcessExecutor(), seed=7, **kw)


@pytest.mark.parametrize("method", ["purged", "walk-forward"])
def test_oof_timestamps_are_the_union_of_test_folds_each_once(method):
    ds, t1 = planted_dataset()
    ts = ds.timestamps
    if method == "purged":
        folds = purged_kfold(ts, t1, 5, EMBARGO)
    else:
        folds = walk_forward(ts, t1, 4, mode="expanding", embargo_ns=EMBARGO)
    result = _oof("xgboost", ds, t1, folds)
    frame = result.frame
    assert frame.columns == ["timestamp", "fold", *PROBA_COLUMNS]
    assert frame.schema["timestamp"] == pl.Datetime("ns", "UTC")
    expected_ts = np.sort(np.concatenate([ts[f.test_idx] for f in folds]))
    got_ts = frame["timestamp"].dt.epoch("ns").to_numpy()
    np.testing.assert_array_equal(got_ts, expected_ts)
    assert frame["timestamp"].is_unique().all()
    fold_of = {int(ts[i]): f.fold_id for f in folds for i in f.test_idx}
    assert frame["fold"].to_list() == [fold_of[int(t)] for t in got_ts]
    p = frame.select(PROBA_COLUMNS).to_numpy()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-9)
    assert result.coverage.fraction == 1.0
    assert result.coverage.missing.height == 0


def test_cpcv_oof_has_one_row_per_timestamp_and_testing_fold():
    ds, t1 = planted_dataset(n=600)
    cpcv = combinatorial_purged_cv(ds.timestamps, t1, 4, 2, EMBARGO)
    frame = _oof("logistic", ds, t1, cpcv.folds).frame
    assert frame.height == sum(f.test_idx.size for f in cpcv.folds)
    assert frame.select("timestamp", "fold").is_unique().all()
    per_ts = frame.group_by("timestamp").len()["len"]
    assert (per_ts == cpcv.n_paths).all()  # each group is tested C(N-1, k-1) times


@pytest.mark.parametrize("name", TABULAR)
def test_random_walk_null_direction_auc_is_chance(name):
    ds, t1 = random_walk_dataset()
    folds = purged_kfold(ds.timestamps, t1, 5, EMBARGO)
    frame = _oof(name, ds, t1, folds).frame
    y = ds.y[np.searchsorted(ds.timestamps, frame["timestamp"].dt.epoch("ns").to_numpy())]
    directional = y != 0
    score = (frame["p_long"] - frame["p_short"]).to_numpy()[directional]
    auc = roc_auc_score(y[directional] == 1, score)
    assert 0.4 <= auc <= 0.6, (name, auc)


def test_planted_pattern_is_found_out_of_fold():
    """The positive control for the null test: the same AUC clearly above chance when there is signal."""
    ds, t1 = planted_dataset()
    frame = _oof("logistic", ds, t1, purged_kfold(ds.timestamps, t1, 5, EMBARGO)).frame
    directional = ds.y != 0
    auc = roc_auc_score(ds.y[directional] == 1, (frame["p_long"] - frame["p_short"]).to_numpy()[directional])
    assert auc > 0.9


def test_rows_a_model_cannot_build_are_reported_not_filled():
    full, t1 = planted_dataset(n=800)
    folds = purged_kfold(full.timestamps, t1, 4, EMBARGO)
    # like a sequence model's warm-up: the first 15 rows of every fold's test block are absent
    absent = np.concatenate([f.test_idx[:15] for f in folds])
    keep = np.setdiff1d(np.arange(len(full)), absent)
    result = _oof("xgboost", full.subset(keep), t1, folds, clock_ts=full.timestamps)
    got = result.frame["timestamp"].dt.epoch("ns").to_numpy()
    np.testing.assert_array_equal(got, full.timestamps[keep])
    missing = result.coverage.missing
    np.testing.assert_array_equal(missing["timestamp"].dt.epoch("ns").to_numpy(), full.timestamps[absent])
    assert missing["fold"].to_list() == [f.fold_id for f in folds for _ in range(15)]
    assert result.coverage.n_test == 800
    assert result.coverage.n_predicted == 800 - absent.size
    assert [c.n_predicted for c in result.coverage.folds] == [f.test_idx.size - 15 for f in folds]


def test_inner_validation_is_carved_from_the_fold_training_part_and_purged():
    ds, t1 = planted_dataset(n=900)
    ts = ds.timestamps
    folds = purged_kfold(ts, t1, 5, EMBARGO)
    plan = CVPlan.from_folds(ds.timestamps, t1, folds, embargo_ns=EMBARGO, inner_val_frac=0.2)
    jobs, _ = plan_fold_jobs(get_model_class("xgboost"), {}, ds, plan, seed=0)
    for fold, job in zip(folds, jobs, strict=True):
        assert set(job.val_rows) <= set(fold.train_idx)
        assert not set(job.val_rows) & set(job.train_rows)
        assert not (set(job.val_rows) | set(job.train_rows)) & set(fold.test_idx)
        assert job.val_rows.size == int(np.ceil(0.2 * fold.train_idx.size))
        assert job.val_rows.max() == fold.train_idx.max()  # the latest training rows
        # no inner training window [ts, t1] overlaps the validation slice's span or its embargo
        lo, hi = ts[job.val_rows].min(), t1[job.val_rows].max()
        tr_ts, tr_t1 = ts[job.train_rows], t1[job.train_rows]
        contiguous = np.all(np.diff(job.val_rows) == 1)
        if contiguous:
            assert not ((tr_t1 >= lo) & (tr_ts <= hi + EMBARGO)).any()


def test_models_without_validation_get_no_inner_slice():
    ds, t1 = planted_dataset(n=400)
    folds = purged_kfold(ds.timestamps, t1, 4, EMBARGO)
    logistic_jobs, _ = plan_fold_jobs(
        get_model_class("logistic"),
        {},
        ds,
        CVPlan.from_folds(ds.timestamps, t1, folds, inner_val_frac=0.2),
        0,
    )
    assert all(j.val_rows is None for j in logistic_jobs)
    assert [j.train_rows.size for j in logistic_jobs] == [f.train_idx.size for f in folds]
    xgb_jobs, _ = plan_fold_jobs(
        get_model_class("xgboost"),
        {},
        ds,
        CVPlan.from_folds(ds.timestamps, t1, folds, inner_val_frac=None),
        0,
    )
    assert all(j.val_rows is None for j in xgb_jobs)


def test_fold_predictions_never_see_labels_outside_their_training_part():
    """Scramble every label the fold may not use (its test block, purged rows): its predictions stay put."""
    ds, t1 = planted_dataset(n=900)
    folds = purged_kfold(ds.timestamps, t1, 5, EMBARGO)
    base = _oof("xgboost", ds, t1, folds)
    job = base.jobs[2]
    allowed = np.union1d(job.train_rows, job.val_rows)
    y = ds.y.copy()
    hidden = np.setdiff1d(np.arange(len(ds)), allowed)
    y[hidden] = np.random.default_rng(3).permutation(y[hidden])
    perturbed = _oof("xgboost", Dataset(ds.x, y), t1, folds)
    same = pl.col("fold") == 2
    assert base.frame.filter(same).equals(perturbed.frame.filter(same))
    assert not base.frame.filter(~same).equals(perturbed.frame.filter(~same))


def test_executors_give_identical_oof():
    ds, t1 = planted_dataset(n=600)
    folds = purged_kfold(ds.timestamps, t1, 3, EMBARGO)
    local = _oof("lightgbm", ds, t1, folds, InProcessExecutor()).frame
    with LocalProcessExecutor(max_workers=2) as pool:
        pooled = _oof("lightgbm", ds, t1, folds, pool).frame
        pooled_svm = _oof("svm", ds, t1, folds, pool).frame
    assert local.equals(pooled)
    assert _oof("svm", ds, t1, folds).frame.equals(pooled_svm)


def test_write_oof(tmp_path):
    ds, t1 = planted_dataset(n=300)
    result = _oof("logistic", ds, t1, purged_kfold(ds.timestamps, t1, 3, EMBARGO))
    path = write_oof(result, tmp_path / "models" / "logistic_h5")
    assert pl.read_parquet(path).equals(result.frame)
    assert (path.parent / COVERAGE_FILE).read_text().count('"n_predicted": 300') == 1


def test_bad_inputs_are_refused():
    ds, t1 = planted_dataset(n=300)
    folds = purged_kfold(ds.timestamps, t1, 3, EMBARGO)
    cls = get_model_class("logistic")
    with pytest.raises(ConfigError, match="no folds"):
        CVPlan.from_folds(ds.timestamps, t1, [])
    with pytest.raises(DataError, match="t1"):
        CVPlan.from_folds(ds.timestamps, t1[:-1], folds)
    shifted = TabularView(ds.x.x, ds.timestamps + 1, ds.x.feature_names)
    with pytest.raises(DataError, match="not on the decision clock"):
        plan_fold_jobs(cls, {}, Dataset(shifted, ds.y), CVPlan.from_folds(ds.timestamps, t1, folds), 0)
