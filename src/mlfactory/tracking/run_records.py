"""Run records built from what the commands write into a run directory.

- ``models/<name>_h<H>/``  → a ``model`` run: resolved config and routing as params, metrics.json
  flattened, metrics.json and routing.json as artifacts;
- ``ensembles/<id>/``      → an ``ensemble`` run with one ``base`` child per base model (its
  routing, OOF and test log loss, guard weight, and per-fold OOF log loss and coverage as steps);
- ``cv/summary_*.json``    → one ``cv`` run per model with one ``fold`` child per fold;
- ``backtests/<id>/``      → a ``backtest`` run (a ``step`` child per entry of ``steps`` if any).

Only summaries go to MLflow; predictions and OOF arrays stay in the run's Parquet files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlfactory.errors import ArtifactError
from mlfactory.tracking.flatten import flatten_metrics, flatten_params
from mlfactory.tracking.headline import headline_metrics
from mlfactory.tracking.record import RunRecord

MODEL_FILES = ("metrics.json", "routing.json", "oof_coverage.json", "best_params.json")
ENSEMBLE_FILES = ("metrics.json", "ensemble.json")
BASE_FILES = ("routing.json", "oof_coverage.json")
PROBA_COLUMNS = ("p_short", "p_neutral", "p_long")
CLASSES = (-1, 0, 1)


def read_json(path: Path) -> dict[str, Any]:
    try:
        obj = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{path}: cannot be read as JSON ({exc}); rerun the step that wrote it") from exc
    if not isinstance(obj, dict):
        raise ArtifactError(f"{path}: expected a JSON object, got {type(obj).__name__}")
    return obj


def optional_json(path: Path) -> dict[str, Any] | None:
    return read_json(path) if Path(path).is_file() else None


@dataclass(frozen=True)
class RunContext:
    """What every record of one run directory shares: where it is, its data and config."""

    root: Path
    manifest: dict[str, Any]
    splits: dict[str, Any]

    @classmethod
    def of(cls, run: Path) -> RunContext:
        root = Path(run).resolve()
        from mlfactory.run_dir import RunDir

        return cls(
            root,
            RunDir(root).read_manifest(),
            optional_json(root / "splits.json") or {},
        )

    @property
    def symbol(self) -> str | None:
        return self.manifest.get("symbol") or (self.manifest.get("instrument") or {}).get("symbol")

    @property
    def decision_timeframe(self) -> str | None:
        ladder = (self.manifest.get("config") or {}).get("ladder") or {}
        return self.splits.get("decision_timeframe") or ladder.get("base_timeframe")

    def tags(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "run_dir": str(self.root),
            "generation": self.manifest.get("generation"),
        }

    def params(self) -> dict[str, Any]:
        from mlfactory.run_dir import stable_hash

        config = self.manifest.get("config")
        return {
            "data_sha256": (self.manifest.get("input") or {}).get("sha256"),
            "pipeline_config_hash": stable_hash(config)[:16] if config is not None else None,
            "decision_timeframe": self.decision_timeframe,
        }

    def labels_path(self, horizon: int) -> Path:
        return self.root / "labels" / f"h{horizon}.parquet"


def artifact_tags(ctx: RunContext, directory: Path) -> dict[str, Any]:
    """The run's tags, with the generation the artifact itself records (``generation.json``): none
    when it records none, which the store's leaderboard then treats as stale, as ``current_only`` does."""
    from mlfactory.run_dir import artifact_generation

    return ctx.tags() | {"generation": artifact_generation(directory)}


def model_record(ctx: RunContext, directory: Path, kind: str = "model") -> RunRecord:
    """One ``models/<name>_h<H>/`` directory (train's output)."""
    metrics = read_json(directory / "metrics.json")
    routing = optional_json(directory / "routing.json") or {}
    rec = RunRecord(directory.name)
    rec.add_tags(artifact_tags(ctx, directory))
    rec.add_tags(
        {
            "kind": kind,
            "name": directory.name,
            "model": metrics.get("model"),
            "horizon": metrics.get("horizon"),
            "family": metrics.get("family"),
            "timeframe": metrics.get("timeframe") or routing.get("timeframe"),
        }
    )
    rec.add_params(ctx.params())
    rec.add_params(_routing_params(routing))
    rec.add_params({k: metrics.get(k) for k in ("model", "horizon", "seed", "family", "feature_set")})
    _add_summary(rec, metrics)
    coverage = (routing.get("coverage") or {}).get("fraction")
    if "coverage" not in rec.metrics and isinstance(coverage, int | float):
        rec.add_nested({"coverage": coverage})
    rec.add_artifacts(*(directory / f for f in MODEL_FILES))
    return rec


def ensemble_record(ctx: RunContext, directory: Path, recipe: str | None = None) -> RunRecord:
    """One ``ensembles/<id>/`` directory (train-ensemble's output) and a child per base model."""
    metrics = read_json(directory / "metrics.json")
    bundle = optional_json(directory / "ensemble.json") or {}
    horizon = metrics.get("horizon")
    rec = RunRecord(directory.name)
    rec.add_tags(artifact_tags(ctx, directory))
    rec.add_tags(
        {
            "kind": "ensemble",
            "name": directory.name,
            "horizon": horizon,
            "family": metrics.get("family") or "ensemble",
            "meta_learner": metrics.get("meta_learner"),
            "timeframe": bundle.get("decision_timeframe") or ctx.decision_timeframe,
            "recipe": recipe,
        }
    )
    rec.add_params(ctx.params())
    guard = metrics.get("guard") or {}
    rec.add_params(
        {
            "bases": ",".join(metrics.get("bases") or []),
            "meta_learner": metrics.get("meta_learner"),
            "horizon": horizon,
            "seed": metrics.get("seed"),
            "folds": metrics.get("folds"),
            "coverage_policy": bundle.get("coverage_policy"),
            "meta_features": bundle.get("meta_features"),
            "guard_enabled": guard.get("enabled"),
            "kept": guard.get("kept") or bundle.get("kept"),
            "recipe": recipe,
        }
    )
    _add_summary(rec, {k: v for k, v in metrics.items() if k != "directory"})
    test = (metrics.get("stack_coverage") or {}).get("test") or {}
    if "coverage" not in rec.metrics and test.get("clock_rows"):
        rec.add_nested({"coverage": test.get("rows_all_bases", 0) / test["clock_rows"]})
    rec.add_artifacts(*(directory / f for f in ENSEMBLE_FILES))
    rec.children = [
        _base_record(ctx, directory / "bases" / b, b, metrics, horizon) for b in metrics.get("bases") or []
    ]
    return rec


def _base_record(ctx: RunContext, directory: Path, base: str, metrics: dict, horizon: Any) -> RunRecord:
    routing = optional_json(directory / "routing.json") or {}
    rec = RunRecord(base)
    rec.add_tags(ctx.tags())
    rec.add_tags(
        {
            "kind": "base",
            "name": base,
            "model": routing.get("model") or base,
            "horizon": horizon,
            "family": routing.get("family"),
            "timeframe": routing.get("timeframe"),
        }
    )
    rec.add_params(_routing_params(routing))
    rec.add_params({"horizon": horizon})
    guard = metrics.get("guard") or {}
    rec.add_nested(
        {
            "oof_log_loss": (metrics.get("oof_log_loss") or {}).get(base),
            "test_log_loss": (metrics.get("base_test_log_loss") or {}).get(base),
            "guard_weight": (guard.get("weights") or {}).get(base),
            "missing_in_stack": (((metrics.get("stack_coverage") or {}).get("oof") or {}).get("missing_by_base") or {}).get(base),
        }
    )  # fmt: skip
    _add_fold_series(rec, ctx, directory, horizon)
    rec.add_artifacts(*(directory / f for f in BASE_FILES))
    return rec


def cv_records(ctx: RunContext, summary_path: Path) -> list[RunRecord]:
    """A ``cv/summary_*.json`` file: one run per model, one child per fold."""
    summary = read_json(summary_path)
    horizon = summary.get("horizon")
    folds_file = summary.get("folds_file")
    folds = (optional_json(Path(folds_file)) or {}).get("folds", []) if folds_file else []
    settings = {k: v for k, v in summary.items() if k not in ("models", "folds_file")}
    records = []
    for name, entry in sorted((summary.get("models") or {}).items()):
        rec = RunRecord(f"cv {name}_h{horizon}")
        rec.add_tags(ctx.tags())
        rec.add_tags({"kind": "cv", "name": f"{name}_h{horizon}", "model": name, "horizon": horizon})
        rec.add_params(ctx.params())
        rec.add_params({"model": name, **settings})
        tuned = entry.get("tuned") or {}
        rec.add_params(flatten_params(tuned.get("best_params") or {}, "tuned"))
        _add_summary(rec, entry)
        if "oof_log_loss" in rec.metrics and "prior_log_loss" in rec.metrics:
            rec.metrics["oof_log_loss_vs_prior"] = rec.metrics["oof_log_loss"] - rec.metrics["prior_log_loss"]
        model_dir = ctx.root / "models" / f"{name}_h{horizon}"
        rec.add_artifacts(model_dir / "oof_coverage.json", model_dir / "best_params.json")
        rec.children = _fold_records(ctx, model_dir, horizon, folds, rec.tags)
        records.append(rec)
    return records


def backtest_record(ctx: RunContext, directory: Path, recipe: str | None = None) -> RunRecord:
    """One ``backtests/<id>/`` directory; each step (``steps.json`` or ``metrics["steps"]``) is a child."""
    metrics = read_json(directory / "metrics.json")
    rec = RunRecord(directory.name)
    rec.add_tags(artifact_tags(ctx, directory))
    rec.add_tags(
        {
            "kind": "backtest",
            "name": directory.name,
            "horizon": metrics.get("horizon"),
            "model": metrics.get("model"),
            "family": metrics.get("family"),
            "recipe": recipe or metrics.get("recipe"),
            "timeframe": metrics.get("timeframe") or ctx.decision_timeframe,
        }
    )
    rec.add_params(ctx.params())
    rec.add_params({k: v for k, v in metrics.items() if _is_setting(k, v)})
    rec.add_params(flatten_params(metrics.get("walk_forward") or {}, "walk_forward"))
    steps = metrics.get("steps")
    if not isinstance(steps, list):
        steps = _json_list(directory / "steps.json")
    _add_summary(rec, {k: v for k, v in metrics.items() if not isinstance(v, list) or k != "steps"})
    for i, step in enumerate(s for s in steps if isinstance(s, dict)):
        step_id = step.get("step", i)
        child = RunRecord(f"{directory.name} step {step_id}")
        child.add_tags(ctx.tags())
        child.add_tags({"kind": "step", "name": f"{directory.name}/{step_id}", "step": step_id})
        child.add_params(flatten_params({k: v for k, v in step.items() if not isinstance(v, int | float)}))
        _add_summary(child, step)
        rec.children.append(child)
    rec.add_artifacts(*sorted(directory.glob("*.json")))
    return rec


def _json_list(path: Path) -> list[Any]:
    """A JSON list file (e.g. ``steps.json``), empty when absent."""
    if not path.is_file():
        return []
    try:
        obj = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{path}: cannot be read as JSON ({exc}); rerun the step that wrote it") from exc
    if not isinstance(obj, list):
        raise ArtifactError(f"{path}: expected a JSON list, got {type(obj).__name__}")
    return obj


def fold_log_losses(oof_path: Path, labels_path: Path) -> dict[int, tuple[int, float]]:
    """Per fold of an OOF file: (rows with a label, log loss of its predictions on them)."""
    import polars as pl
    from sklearn.metrics import log_loss

    if not oof_path.is_file() or not labels_path.is_file():
        return {}
    oof = pl.read_parquet(oof_path, columns=["timestamp", "fold", *PROBA_COLUMNS])
    labels = pl.read_parquet(labels_path, columns=["timestamp", "label"])
    joined = oof.join(labels, on="timestamp", how="inner").sort("fold", "timestamp")
    out: dict[int, tuple[int, float]] = {}
    for (fold,), part in joined.group_by("fold", maintain_order=True):
        if part.height == 0:
            continue
        p = part.select(PROBA_COLUMNS).to_numpy()
        p = p / p.sum(axis=1, keepdims=True)
        y = part["label"].to_numpy().astype(np.int64)
        out[int(fold)] = (part.height, float(log_loss(y, p, labels=list(CLASSES))))
    return out


def _fold_records(
    ctx: RunContext, model_dir: Path, horizon: Any, folds: list[dict], tags: dict[str, str]
) -> list[RunRecord]:
    coverage = {
        f.get("fold_id"): f for f in (optional_json(model_dir / "oof_coverage.json") or {}).get("folds", [])
    }
    losses = fold_log_losses(model_dir / "oof.parquet", ctx.labels_path(int(horizon))) if horizon else {}
    ids = sorted({*coverage, *losses, *(f.get("fold_id") for f in folds)} - {None})
    spec = {f.get("fold_id"): f for f in folds}
    records = []
    for fold_id in ids:
        rec = RunRecord(f"fold {fold_id}")
        rec.add_tags({k: tags.get(k) for k in ("symbol", "run_dir", "generation", "model", "horizon")})
        rec.add_tags({"kind": "fold", "name": f"{tags.get('name')}/fold{fold_id}", "fold": fold_id})
        rec.add_params({"fold": fold_id, **_fold_bounds(spec.get(fold_id) or {})})
        cov = coverage.get(fold_id) or {}
        rec.add_nested({k: v for k, v in cov.items() if k != "fold_id"})
        if cov.get("n_test"):
            rec.add_nested({"coverage": cov.get("n_predicted", 0) / cov["n_test"]})
        s = spec.get(fold_id) or {}
        rec.add_nested({"n_purged": s.get("n_purged"), "n_embargoed": s.get("n_embargoed")})
        if fold_id in losses:
            rec.add_nested({"oof_rows": losses[fold_id][0], "oof_log_loss": losses[fold_id][1]})
        records.append(rec)
    return records


def _fold_bounds(fold: dict) -> dict[str, Any]:
    """First and last test timestamp of a fold (ISO, UTC) from its ``[start_ns, end_ns]`` intervals."""
    from datetime import UTC, datetime

    test = fold.get("test") or []
    if not test:
        return {}

    def iso(ns: int) -> str:
        return datetime.fromtimestamp(ns / 1e9, tz=UTC).isoformat()

    return {"test_start": iso(test[0][0]), "test_end": iso(test[-1][1]), "test_intervals": len(test)}


def _add_fold_series(rec: RunRecord, ctx: RunContext, directory: Path, horizon: Any) -> None:
    """Per-fold OOF coverage and log loss of a base model as step series (step = fold id)."""
    coverage = (optional_json(directory / "oof_coverage.json") or {}).get("folds", [])
    for f in coverage:
        if f.get("n_test"):
            rec.series.setdefault("fold_coverage", []).append(
                (int(f["fold_id"]), f.get("n_predicted", 0) / f["n_test"])
            )
    if horizon:
        for fold, (_, loss) in fold_log_losses(
            directory / "oof.parquet", ctx.labels_path(int(horizon))
        ).items():
            rec.series.setdefault("fold_oof_log_loss", []).append((fold, loss))


def _is_setting(key: str, value: Any) -> bool:
    """Text and flags are settings; of the numbers only the horizon, seed and window lengths."""
    if isinstance(value, str | bool):
        return True
    return isinstance(value, int) and (key in ("horizon", "seed") or "days" in key or "refit" in key)


def _routing_params(routing: dict[str, Any]) -> dict[str, Any]:
    """The resolved config and routing of a model (feature names stay in routing.json)."""
    out: dict[str, Any] = {
        k: routing.get(k)
        for k in ("model", "family", "input", "timeframe", "mtf_strategy", "feature_set", "n_features")
    }
    out["mtf_timeframes"] = ",".join(routing.get("mtf_timeframes") or []) or None
    source = routing.get("config_source")
    out["config_source"] = Path(source).name if source else None
    out |= flatten_params(routing.get("params") or {}, "param")
    return out


def _add_summary(rec: RunRecord, metrics: dict[str, Any]) -> None:
    """The flattened metrics and their headline keys."""
    flat = flatten_metrics(metrics)
    rec.add_metrics(flat)
    rec.metrics.update(headline_metrics(flat.metrics))
