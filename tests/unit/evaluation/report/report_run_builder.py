"""Build a complete run directory for report tests from real computations.

The data half is exactly `mlfactory demo --quick` (the same seeded synthetic MES sample through
``run_pipeline``). Labels come from the run when the pipeline wrote them, else a fixed-horizon
volatility-scaled labelling of the 5m bars. Models are a scikit-learn logistic regression on causal
lagged-return features and a Dirichlet "no skill" model, plus a stacked ensemble of the two; every
number in their artifacts comes from mlfactory.evaluation (classification_report, backtest,
trading_report, deflated Sharpe, PBO). Nothing is hand-typed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mlfactory.config import load_pipeline_config
from mlfactory.data.instruments import get_instrument
from mlfactory.demo import QUICK, sample_path
from mlfactory.evaluation import (
    backtest,
    buy_and_hold,
    class_frequencies,
    classification_report,
    deflated_sharpe_ratio,
    positions_from_probabilities,
    probability_of_backtest_overfitting,
    sharpe_ratio_moments,
    trading_report,
    volatility_regimes,
)
from mlfactory.evaluation.comparison import coverage, evidence_warnings, trading_days
from mlfactory.pipeline import run_pipeline
from mlfactory.run_dir import current_generation, stamp_generation
from mlfactory.splits import combinatorial_purged_cv, folds_to_json

HORIZONS = (6, 12)
FEATURES = ("r1", "r3", "r12", "vol12", "range", "hour_sin", "hour_cos")
PROBA = ("p_short", "p_neutral", "p_long")
N_FOLDS = 4
CPCV_GROUPS = 6


def build_run(out: Path, seed: int = 0) -> Path:
    """``out/run``: manifest + bars (pipeline), labels, two single models (h6), one partial model (h12),
    one stacked ensemble. Returns the run directory."""
    run = run_pipeline(
        sample_path(out, QUICK.bars), get_instrument("MES"), load_pipeline_config(), out / "run"
    ).run.root
    bars = pl.read_parquet(run / "data" / "bars_5m.parquet").sort("timestamp")
    feats = _features(bars)
    labels = {h: _labels(run, bars, h) for h in HORIZONS}
    rng = np.random.default_rng(seed)
    ds = _dataset(feats, labels[6])
    ctx = _Context(run=run, bars=bars, ds=ds, horizon=6)

    logistic = ctx.fit_logistic()
    dirichlet = ctx.dirichlet(rng)
    stack = ctx.stack([logistic, dirichlet])
    trials = [logistic, dirichlet, stack]
    for m in trials:
        m["metrics"]["overfitting"] = ctx.overfitting(m, trials)
    ctx.write("models", "logistic_h6", logistic)
    dirichlet["metrics"].pop("overfitting")  # a model without overfitting statistics renders "not available"
    ctx.write("models", "dirichlet_h6", dirichlet)
    ctx.write("ensembles", "stack_h6", stack)
    ctx.write_cpcv("logistic_h6")

    ctx12 = _Context(run=run, bars=bars, ds=_dataset(feats, labels[12]), horizon=12)
    partial = ctx12.fit_logistic()
    partial["metrics"].pop("feature_importance")
    (run / "models" / "logistic_h12").mkdir(parents=True)
    _write_json(run / "models" / "logistic_h12" / "metrics.json", partial["metrics"])  # metrics only
    stamp_generation(run / "models" / "logistic_h12", current_generation(run))
    return run


def _features(bars: pl.DataFrame) -> pl.DataFrame:
    lc = pl.col("close").log()
    hour = pl.col("timestamp").dt.hour().cast(pl.Float64) * (2 * np.pi / 24)
    return bars.select(
        "timestamp",
        r1=lc.diff(1),
        r3=lc.diff(3),
        r12=lc.diff(12),
        vol12=lc.diff().rolling_std(12),
        range=(pl.col("high") - pl.col("low")) / pl.col("close"),
        hour_sin=hour.sin(),
        hour_cos=hour.cos(),
    )


def _labels(run: Path, bars: pl.DataFrame, h: int) -> pl.DataFrame:
    """The pipeline's labels when present, else fixed-horizon labels scaled by trailing volatility."""
    path = run / "labels" / f"h{h}.parquet"
    if path.is_file():
        return pl.read_parquet(path).drop_nulls("label")
    lc = pl.col("close").log()
    fwd = lc.shift(-h) - lc
    threshold = lc.diff().rolling_std(24) * np.sqrt(h) * 0.5
    label = pl.when(fwd > threshold).then(1).when(fwd < -threshold).then(-1).otherwise(0).cast(pl.Int8)
    frame = (
        bars.select(
            "timestamp",
            label=label,
            t1=pl.col("timestamp").shift(-h),
            ret=fwd,
            barrier=label,
            weight=pl.lit(1.0),
            threshold=threshold,
        )
        .drop_nulls()
        .drop("threshold")
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(path)
    return frame


def _dataset(feats: pl.DataFrame, labels: pl.DataFrame) -> dict[str, Any]:
    frame = labels.select("timestamp", "label").join(feats, on="timestamp").drop_nulls().sort("timestamp")
    n = frame.height
    split = np.where(np.arange(n) < 0.6 * n, 0, np.where(np.arange(n) < 0.8 * n, 1, 2))
    return {
        "ts": frame["timestamp"],
        "X": frame.select(FEATURES).to_numpy(),
        "y": frame["label"].to_numpy().astype(np.int64),
        "split": split,
    }


class _Context:
    def __init__(self, run: Path, bars: pl.DataFrame, ds: dict[str, Any], horizon: int) -> None:
        self.run, self.bars, self.ds, self.h = run, bars, ds, horizon
        self.instrument = get_instrument("MES")
        self.train = ds["split"] == 0
        self.prior = class_frequencies(ds["y"][self.train])

    def _mask(self, split: str) -> np.ndarray:
        return self.ds["split"] == {"train": 0, "val": 1, "test": 2}[split]

    def fit_logistic(self) -> dict[str, Any]:
        X, y = self.ds["X"], self.ds["y"]
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(
            X[self.train], y[self.train]
        )
        oof = self._oof(
            lambda tr, te: (
                make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
                .fit(X[tr], y[tr])
                .predict_proba(X[te])
            )
        )
        coef = model[-1].coef_
        out = self.evaluate(
            "logistic", "linear", {s: model.predict_proba(X[self._mask(s)]) for s in ("val", "test")}
        )
        out["metrics"]["feature_importance"] = dict(
            zip(FEATURES, np.abs(coef).mean(axis=0).tolist(), strict=True)
        )
        out["metrics"]["n_features"] = len(FEATURES)
        out["oof"] = oof
        return out

    def dirichlet(self, rng: np.random.Generator) -> dict[str, Any]:
        n = self.ds["y"].shape[0]
        proba = rng.dirichlet((2.0, 2.0, 2.0), size=n)
        out = self.evaluate("dirichlet", "baseline", {s: proba[self._mask(s)] for s in ("val", "test")})
        out["oof"] = self._oof(lambda tr, te: proba[te])
        return out

    def stack(self, bases: list[dict[str, Any]]) -> dict[str, Any]:
        """Logistic meta-learner on the bases' OOF probabilities; guard against their average and the best base."""
        oof_ok = np.isfinite(bases[0]["oof"][:, 0])
        Z = np.hstack([b["oof"] for b in bases])[oof_ok]
        meta = LogisticRegression(max_iter=500).fit(Z, self.ds["y"][self.train][oof_ok])
        proba = {s: meta.predict_proba(np.hstack([b["proba"][s] for b in bases])) for s in ("val", "test")}
        out = self.evaluate("stack", "stacking", proba)
        y_val = self.ds["y"][self._mask("val")]
        scores = {
            "meta": classification_report(y_val, proba["val"], train_class_frequencies=self.prior)["model"][
                "log_loss"
            ],
            "weighted_average": classification_report(
                y_val, np.mean([b["proba"]["val"] for b in bases], axis=0), train_class_frequencies=self.prior
            )["model"]["log_loss"],
            "best_base": min(b["metrics"]["classification"]["val"]["model"]["log_loss"] for b in bases),
        }
        score = np.stack([b["oof"][oof_ok][:, 2] - b["oof"][oof_ok][:, 0] for b in bases])
        names = [f"{b['metrics']['model']}_h{self.h}" for b in bases]
        out["metrics"] |= {
            "kind": "ensemble",
            "bases": names,
            "meta_learner": "logistic",
            "oof_correlation": {"names": names, "matrix": np.corrcoef(score).tolist()},
            "guard": scores | {"kept": min(scores, key=scores.__getitem__), "metric": "log_loss"},
        }
        return out

    def _oof(self, fit_predict: Any) -> np.ndarray:
        """Out-of-fold probabilities on the training rows, contiguous folds (first fold has no history: NaN)."""
        idx = np.flatnonzero(self.train)
        folds = np.array_split(idx, N_FOLDS)
        oof = np.full((idx.shape[0], 3), np.nan)
        for k in range(1, N_FOLDS):
            past = np.concatenate(folds[:k])
            oof[np.isin(idx, folds[k])] = fit_predict(past, folds[k])
        self._folds = np.concatenate([np.full(f.shape[0], k) for k, f in enumerate(folds)])
        return oof

    def evaluate(self, name: str, family: str, proba: dict[str, np.ndarray]) -> dict[str, Any]:
        metrics: dict[str, Any] = {
            "kind": "model", "model": name, "horizon": self.h, "family": family, "seed": 0, "timeframe": "5m",
            "feature_set": "lagged_returns", "classification": {}, "trading": {},
        }  # fmt: skip
        results = {}
        for split, p in proba.items():
            mask = self._mask(split)
            metrics["classification"][split] = classification_report(
                self.ds["y"][mask], p, train_class_frequencies=self.prior
            )
            ts = self.ds["ts"].filter(pl.Series(mask))
            bars = self.bars.filter(pl.col("timestamp").is_between(ts[0], ts[-1]))
            result = backtest(
                ts.dt.epoch("ns").to_numpy(),
                positions_from_probabilities(p, "argmax"),
                bars["timestamp"].dt.epoch("ns").to_numpy(),
                bars["open"].to_numpy(),
                bars["close"].to_numpy(),
                self.instrument,
                holding="horizon",
                horizon=self.h,
            )
            regime = volatility_regimes(result.bar_close, 24)
            metrics["trading"][split] = trading_report(result, regime=regime)
            cov, days = coverage(int(mask.sum()), int(mask.sum())), trading_days(result.bar_ts)
            trades = metrics["trading"][split]["strategy"]["trade_count"]
            metrics["trading"][split] |= {
                "coverage": cov,
                "trading_days": days,
                "warnings": evidence_warnings(cov["share"], days, trades),
            }
            results[split] = result
        return {"metrics": metrics, "proba": proba, "results": results}

    def overfitting(self, model: dict[str, Any], trials: list[dict[str, Any]]) -> dict[str, Any]:
        returns = np.stack([t["results"]["test"].returns for t in trials], axis=1)
        srs = [sharpe_ratio_moments(returns[:, i])["sr"] for i in range(returns.shape[1])]
        mom = sharpe_ratio_moments(model["results"]["test"].returns)
        dsr = deflated_sharpe_ratio(
            mom["sr"], len(trials), float(np.var(srs, ddof=1)), int(mom["n_obs"]), mom["skew"], mom["kurt"]
        )
        pbo = probability_of_backtest_overfitting(returns, n_partitions=8)
        return {
            "dsr": dsr,
            "deflated_sharpe": {"dsr": dsr, "sr": mom["sr"], "n_trials": len(trials)},
            "pbo": {"pbo": pbo.pbo, "n_combinations": pbo.n_combinations, "prob_oos_loss": pbo.prob_oos_loss},
        }

    def write(self, kind: str, name: str, model: dict[str, Any]) -> None:
        d = self.run / kind / name
        d.mkdir(parents=True)
        stamp_generation(d, current_generation(self.run))
        _write_json(d / "metrics.json", model["metrics"])
        test = self._mask("test")
        p = model["proba"]["test"]
        pl.DataFrame(
            {"timestamp": self.ds["ts"].filter(pl.Series(test)), "label": self.ds["y"][test].astype(np.int8)}
            | {c: p[:, i] for i, c in enumerate(PROBA)}
        ).write_parquet(d / "predictions_test.parquet")
        r = model["results"]["test"]
        eq = r.equity_currency
        pl.DataFrame(
            {
                "timestamp": pl.Series(r.bar_ts).cast(pl.Datetime("ns")).dt.replace_time_zone("UTC"),
                "equity_currency": eq,
                "drawdown_currency": np.maximum.accumulate(np.maximum(eq, 0.0)) - eq,
                "buy_and_hold_equity": buy_and_hold(r).equity_currency,
            }
        ).write_parquet(d / "equity_test.parquet")
        if "oof" in model:
            train_ts = self.ds["ts"].filter(pl.Series(self.train))
            pl.DataFrame(
                {"timestamp": train_ts, "fold": self._folds}
                | {c: model["oof"][:, i] for i, c in enumerate(PROBA)}
            ).write_parquet(d / "oof.parquet")

    def write_cpcv(self, name: str) -> None:
        """CPCV (6 groups, 2 test groups) OOF of a fresh logistic fit per fold, as `mlfactory cv` writes it."""
        idx = np.flatnonzero(self.train)
        ts = self.ds["ts"].filter(pl.Series(self.train)).dt.epoch("ns").to_numpy()
        splits = combinatorial_purged_cv(ts, ts + self.h * 300 * 10**9, CPCV_GROUPS, 2, 0)
        X, y, parts = self.ds["X"][idx], self.ds["y"][idx], []
        for f in splits.folds:
            model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(
                X[f.train_idx], y[f.train_idx]
            )
            p = model.predict_proba(X[f.test_idx])
            parts.append(
                pl.DataFrame({"timestamp": ts[f.test_idx], "fold": np.full(f.test_idx.size, f.fold_id)})
                .with_columns(pl.col("timestamp").cast(pl.Datetime("ns", "UTC")))
                .with_columns(*[pl.Series(c, p[:, i]) for i, c in enumerate(PROBA)])
            )
        pl.concat(parts).sort("timestamp", "fold").write_parquet(self.run / "models" / name / "oof.parquet")
        (self.run / "cv").mkdir(exist_ok=True)
        _write_json(
            self.run / "cv" / f"cpcv_k{CPCV_GROUPS}_h{self.h}.json",
            {"method": "cpcv", "embargo_ns": 0, "folds": folds_to_json(splits.folds, ts)},
        )


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, allow_nan=True, default=_np_default))


def _np_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
