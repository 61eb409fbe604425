"""The dataset half of `pipeline run`: features, labels, weights, splits — end to end, on real parts.

Invariants 1–3 of DESIGN.md at the pipeline level: perturbing the input after a time t leaves every
artifact stamped at or before t unchanged (features, ladder bars, labels whose window closed by t),
every fitted statistic (fracdiff d, barrier multipliers, training weights) comes from
training rows only, and no training label window reaches into validation or test.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from mlfactory.config import load_pipeline_config
from mlfactory.data.instruments import get_instrument
from mlfactory.data.synthetic import generate_bars
from mlfactory.pipeline import run_pipeline

NS = 1_000_000_000


def _run(path: Path, out: Path, **overrides):
    cfg = load_pipeline_config(
        overrides={"features": {"timeframes": ["5m", "15m"]}, "ladder": {"mtf_timeframes": ["30m", "1h"]}}
        | overrides
    )
    return run_pipeline(path, get_instrument("MES"), cfg, out)


@pytest.fixture(scope="module")
def base_and_perturbed(tmp_path_factory: pytest.TempPathFactory):
    """The same synthetic file twice: the second has every bar after `cut` changed."""
    tmp = tmp_path_factory.mktemp("leak")
    bars = generate_bars(24_000, start=date(2024, 2, 5), seed=3)
    a = tmp / "a.parquet"
    bars.write_parquet(a)
    first = _run(a, tmp / "run_a", labels={"barriers": {"mode": "optimize", "n_trials": 6}})
    splits = json.loads((first.run.root / "splits.json").read_text())
    # cut inside the test period, so every fitted statistic's rows precede it
    cut_ns = splits["test_start_ns"] + 3600 * NS
    ts_ns = bars["timestamp"].dt.epoch("ns")
    rng = np.random.default_rng(0)
    later = (ts_ns > cut_ns).to_numpy()
    scale = np.where(later, rng.uniform(0.97, 1.03, bars.height), 1.0)
    perturbed = bars.with_columns(
        (pl.col(c) * scale).round(2) for c in ("open", "high", "low", "close")
    ).with_columns(
        pl.max_horizontal("open", "high", "low", "close").alias("high"),
        pl.min_horizontal("open", "high", "low", "close").alias("low"),
        pl.when(pl.Series(later)).then(pl.col("volume") * 3).otherwise(pl.col("volume")).alias("volume"),
    )
    b = tmp / "b.parquet"
    perturbed.write_parquet(b)
    second = _run(b, tmp / "run_b", labels={"barriers": {"mode": "optimize", "n_trials": 6}})
    return first.run.root, second.run.root, cut_ns


def _until(frame: pl.DataFrame, cut_ns: int, col: str = "timestamp") -> pl.DataFrame:
    return frame.filter(pl.col(col).dt.epoch("ns") <= cut_ns)


def test_features_and_ladder_before_the_cut_do_not_see_later_bars(base_and_perturbed):
    a, b, cut = base_and_perturbed
    for rel in (
        "features/5m.parquet",
        "features/15m.parquet",
        "data/bars_15m.parquet",
        "data/bars_1h.parquet",
    ):
        fa, fb = pl.read_parquet(a / rel), pl.read_parquet(b / rel)
        assert not fa.equals(fb), f"{rel}: the perturbation did not reach the file (test would be vacuous)"
        ua, ub = _until(fa, cut), _until(fb, cut)
        assert ua.height > 1000 if rel.startswith("features/5m") else ua.height > 50
        assert ua.equals(ub), f"{rel}: rows stamped at or before the cut changed when later bars changed"


def test_fitted_statistics_come_from_training_rows_only(base_and_perturbed):
    a, b, _ = base_and_perturbed
    for rel in ("features/fitted_state.json", "labels/barriers.json"):
        assert (a / rel).read_text() == (b / rel).read_text(), (
            f"{rel} depends on bars after the training period"
        )
    sa, sb = (json.loads((r / "splits.json").read_text()) for r in (a, b))
    for key in ("val_start_ns", "test_start_ns", "embargo_ns"):
        assert sa[key] == sb[key]
    for h in sa["horizons"]:
        assert sa["horizons"][h]["train"] == sb["horizons"][h]["train"]
    la, lb = pl.read_parquet(a / "labels/h10.parquet"), pl.read_parquet(b / "labels/h10.parquet")
    train_a, train_b = la.filter(pl.col("split") == "train"), lb.filter(pl.col("split") == "train")
    assert train_a.equals(train_b), "training labels or weights depend on later bars"
    assert abs(train_a["weight"].mean() - 1.0) < 1e-9


def test_labels_whose_window_closed_before_the_cut_are_unchanged(base_and_perturbed):
    a, b, cut = base_and_perturbed
    for h in (5, 20):
        la, lb = pl.read_parquet(a / f"labels/h{h}.parquet"), pl.read_parquet(b / f"labels/h{h}.parquet")
        closed_a = la.filter(pl.col("t1").dt.epoch("ns") <= cut).drop("weight")
        closed_b = lb.filter(pl.col("timestamp").is_in(closed_a["timestamp"].implode())).drop("weight")
        assert closed_a.height > 1000
        assert closed_a.equals(closed_b)


def _check_split_hygiene(run: Path, horizons=(5, 10, 15, 20)) -> None:
    splits = json.loads((run / "splits.json").read_text())
    val_start, test_start, embargo = splits["val_start_ns"], splits["test_start_ns"], splits["embargo_ns"]
    assert embargo > 0
    for h in horizons:
        lab = pl.read_parquet(run / f"labels/h{h}.parquet")
        ts, t1 = lab["timestamp"].dt.epoch("ns"), lab["t1"].dt.epoch("ns")
        split = lab["split"]
        assert (t1 >= ts).all()
        train, val, test = split == "train", split == "val", split == "test"
        assert t1.filter(train).max() < val_start, "a training label window reaches into validation"
        assert t1.filter(val).max() < test_start, "a validation label window reaches into test"
        assert ts.filter(val).min() >= val_start + embargo, (
            "embargo after the validation boundary not honoured"
        )
        assert ts.filter(test).min() >= test_start + embargo, "embargo after the test boundary not honoured"
        assert (split == "excluded").sum() == sum(splits["horizons"][str(h)]["purged"].values()) + sum(
            splits["horizons"][str(h)]["embargoed"].values()
        )


def test_real_sample_end_to_end(real_mes_path: Path, tmp_path: Path):
    result = run_pipeline(real_mes_path, get_instrument("MES"), load_pipeline_config(), tmp_path / "run")
    run = result.run.root
    _check_split_hygiene(run)
    labels = result.manifest["labels"]["horizons"]
    print("\nreal MES sample — rows and label distribution per horizon:")
    for h, info in labels.items():
        print(
            f"  h{h}: {info['rows']:,} rows, shares {info['label_share']}, invalid dropped {info['invalid_rows_dropped']}"
        )
    for tf, info in result.manifest["features"].items():
        print(
            f"  features {tf}: {info['rows']:,} rows × {info['columns']} columns, warm {info['warm_rows']:,}"
        )
    assert set(labels) == {"5", "10", "15", "20"}
    for tf in ("5m", "15m", "1h"):
        frame = pl.read_parquet(run / f"features/{tf}.parquet")
        assert all(
            dtype == pl.Float32
            for c, dtype in frame.schema.items()
            if c != "timestamp" and not c.startswith("warm")
        )
        warm = frame.filter(pl.all_horizontal(pl.col("^warm.*$")))
        values = warm.drop("timestamp", pl.selectors.starts_with("warm")).to_numpy()
        assert warm.height > (0.6 if tf != "1h" else 0.3) * frame.height, (
            f"{tf}: {warm.height} warm rows of {frame.height}"
        )
        assert np.isfinite(values).all(), f"{tf}: NaN or inf past the warm-up"
    assert result.manifest["features"]["5m"]["columns"] >= 150


def test_rerun_is_cached_and_deterministic(tmp_path: Path):
    bars = generate_bars(12_000, start=date(2024, 5, 6), seed=5)
    path = tmp_path / "bars.parquet"
    bars.write_parquet(path)
    first = _run(path, tmp_path / "r1")
    again = _run(path, tmp_path / "r1")
    assert set(again.cached_stages) == {"data", "ladder", "features", "labels"}
    other = _run(path, tmp_path / "r2")
    for rel in ("features/5m.parquet", "labels/h10.parquet", "splits.json"):
        assert (first.run.root / rel).read_bytes() == (other.run.root / rel).read_bytes(), rel
    changed = _run(path, tmp_path / "r1", labels={"horizons": [5, 10]})
    assert "labels" not in changed.cached_stages and "features" in changed.cached_stages
    _check_split_hygiene(changed.run.root, horizons=(5, 10))
