"""The factory end to end: pipeline → one tabular model → one neural model → the standard
heterogeneous ensemble (catboost + tcn + patchtst → logistic) → backtests with costs → report.html.

Used by ``mlfactory demo``. The default demo (about a minute on 2 CPU cores) runs every stage on
a smaller sample with small models and a lighter ensemble recipe (lightgbm + tcn → logistic);
``full`` is the larger demo (catboost + tcn + patchtst, a few minutes); ``quick`` is the smallest,
for smoke tests.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlfactory.config import load_pipeline_config
from mlfactory.data.instruments import get_instrument
from mlfactory.data.synthetic import generate_bars
from mlfactory.pipeline import run_pipeline

if TYPE_CHECKING:
    from mlfactory.evaluation.metrics_schema import MetricsRecord

DEMO_SEED = 7
HORIZON = 10


@dataclass(frozen=True)
class DemoSize:
    bars: int
    folds: int
    tabular: tuple[str, ...]
    neural: tuple[str, ...]
    bases: tuple[str, ...] = ("catboost", "tcn", "patchtst")  # the ensemble recipe's bases


FULL = DemoSize(
    bars=90_000,
    folds=3,
    tabular=("n_estimators=150",),
    neural=("epochs=3", "seq_len=32", "patience=2", "progress=false"),
)
DEFAULT = DemoSize(
    bars=30_000,
    folds=3,
    tabular=("n_estimators=40",),
    neural=("epochs=1", "seq_len=16", "patience=1", "progress=false"),
    bases=("lightgbm", "tcn"),
)
QUICK = DemoSize(
    bars=30_000,
    folds=3,
    tabular=("n_estimators=30",),
    neural=("epochs=1", "seq_len=16", "patience=1", "progress=false"),
)
ENSEMBLE_BASES = FULL.bases


def sample_path(out: Path, n_bars: int) -> Path:
    """Generate (once) the deterministic synthetic MES sample used by the demo."""
    path = out / "sample" / f"MES_1m_synthetic_{n_bars}.parquet"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        generate_bars(n_bars, symbol="MES", seed=DEMO_SEED, momentum=0.02).write_parquet(path)
    return path


TABULAR_BASES = ("catboost", "lightgbm", "xgboost")


def _ensemble_params(size: DemoSize) -> tuple[str, ...]:
    out = ["logistic.C=1.0", "logistic.class_weight=none"]
    for base in size.bases:
        out += [f"{base}.{p}" for p in (size.tabular if base in TABULAR_BASES else size.neural)]
    return tuple(out)


def demo_size(quick: bool = False, full: bool = False) -> DemoSize:
    return QUICK if quick else FULL if full else DEFAULT


def run_demo(
    out: Path,
    data: Path | None = None,
    symbol: str = "MES",
    *,
    quick: bool = False,
    full: bool = False,
    progress=lambda m: None,
) -> dict[str, Any]:
    """Run the whole factory into ``out/run`` and return the summary (report path, per-model lines)."""
    from mlfactory.evaluation.report import write_report
    from mlfactory.training.ensemble import EnsembleSpec, train_ensemble
    from mlfactory.training.train import train_model

    t0 = time.perf_counter()
    size = demo_size(quick, full)
    recipe = "standard" if size.bases == FULL.bases else "demo"
    if data is None:
        progress(f"sample: synthetic MES, {size.bars:,} one-minute bars (seed {DEMO_SEED})")
        data = sample_path(out, size.bars)
        symbol = "MES"
    result = run_pipeline(
        data, get_instrument(symbol), load_pipeline_config(), out / "run", progress=progress
    )
    run = result.run.root
    tab = train_model(run, "lightgbm", HORIZON, params=size.tabular, progress=progress)
    neu = train_model(run, "tcn", HORIZON, params=size.neural, progress=progress)
    spec = EnsembleSpec(
        bases=size.bases, meta_learner="logistic", horizon=HORIZON, params=_ensemble_params(size),
        n_splits=size.folds, name=recipe,
    )  # fmt: skip
    ens = train_ensemble(run, spec, progress=progress).metrics
    progress("report: writing report.html")
    report = write_report(run)
    return {
        "seconds": round(time.perf_counter() - t0, 1),
        "data": str(data),
        "run": str(run),
        "report": str(report.path),
        "rows": result.validation["rows_out"],
        "models": [
            _line("lightgbm", tab.metrics),
            _line("tcn", neu.metrics),
            _line(f"ensemble {recipe}", ens),
        ],
        "guard": ens.guard,  # type: ignore[attr-defined]
        "ensemble_overfitting": ens.overfitting.model_dump(),
    }


def _line(name: str, m: MetricsRecord) -> dict[str, Any]:
    head = m.headline("test")
    return {
        "model": name,
        "test_log_loss": head["log_loss"],
        "prior_log_loss": head["prior_log_loss"],
        "test_sharpe": head["sharpe"],
        "test_sharpe_interval": head["sharpe_text"],
        "test_pnl_currency": head["total_pnl_currency"],
        "deflated_sharpe": m.dsr,
    }
