"""Drift: do live features and predictions still look like the training ones?

For every feature the bundle's models use (own and MTF columns) and for the predicted classes,
a recent window is compared with the bundle's training period:

- features: the run's feature store (``RUN/features/<tf>.parquet``, the bundle's run) up to the
  fitted state's ``fit_end`` (the training rows) vs the last ``window`` warm rows of the new data;
  PSI over ``bins`` quantile bins of the reference, and the two-sample KS statistic;
- predictions: the combiner's out-of-sample predictions saved in the bundle
  (``predictions_val.parquet``) vs the last ``window`` predictions; PSI of the argmax class shares
  and KS of ``p_short`` and ``p_long``.

Each score gets a status by the thresholds of ``DriftConfig`` (``mlfactory monitor --config FILE``,
documented in docs/configuration.md). Missing reference files are an ``ArtifactError`` naming the
file. ``monitor_file``'s result is what ``mlfactory monitor`` saves (``serving.drift_results``:
``RUN/monitoring/<bundle-id>/<window-end>.json``) and the report's Drift section draws.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, model_validator

from mlfactory.errors import ArtifactError, ConfigError, validation_summary
from mlfactory.models.base import CLASS_NAMES, PROBA_COLUMNS
from mlfactory.serving.bundle import Bundle

if TYPE_CHECKING:
    from mlfactory.serving.conventions import InputOptions

EPS = 1e-4  # floor of a bin share in PSI (empty bins)


class DriftConfig(BaseModel):
    """Window and thresholds of ``mlfactory monitor`` (``--config FILE``, options override it)."""

    model_config = ConfigDict(extra="forbid")
    window: int = Field(
        default=500,
        ge=20,
        description="recent rows (per timeframe, and predictions) compared with the training period",
    )
    bins: int = Field(default=10, ge=2, le=100, description="quantile bins of the reference for PSI")
    psi_warn: float = Field(default=0.1, gt=0, description="PSI at or above which a column warns")
    psi_alert: float = Field(default=0.25, gt=0, description="PSI at or above which a column alerts")
    ks_alert: float = Field(
        default=0.2, gt=0, le=1, description="KS statistic at or above which a column alerts"
    )

    @model_validator(mode="after")
    def _ordered(self) -> DriftConfig:
        if self.psi_warn > self.psi_alert:
            raise ValueError(
                f"psi_warn {self.psi_warn} is above psi_alert {self.psi_alert}; warn must come first"
            )
        return self

    def status(self, psi_value: float, ks_value: float) -> str:
        """``alert`` at or above an alert threshold, ``warn`` at or above ``psi_warn``, else ``ok``."""
        if psi_value >= self.psi_alert or ks_value >= self.ks_alert:
            return "alert"
        return "warn" if psi_value >= self.psi_warn else "ok"


def load_drift_config(path: Path | None = None, overrides: dict[str, Any] | None = None) -> DriftConfig:
    """The monitor's config: a YAML mapping of ``DriftConfig`` keys (``None`` = defaults), then ``overrides``."""
    from pydantic import ValidationError

    from mlfactory.config import read_yaml

    raw: Any = {} if path is None else read_yaml(Path(path), "monitoring config") or {}
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    source = (
        "the monitor options" if path is None else f"{path}{' with the monitor options' if given else ''}"
    )
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{path}: the monitoring config must be a mapping of {', '.join(DriftConfig.model_fields)}"
        )
    try:
        return DriftConfig.model_validate(raw | given)
    except ValidationError as exc:
        summary = validation_summary(exc, limit=len(exc.errors()))
        raise ConfigError(f"{source}: invalid monitoring config: {summary}") from exc


def psi(reference: np.ndarray, recent: np.ndarray, bins: int) -> float:
    """Population stability index of ``recent`` against quantile bins of ``reference``."""
    ref, cur = reference[np.isfinite(reference)], recent[np.isfinite(recent)]
    if ref.size == 0 or cur.size == 0:
        return float("nan")
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1]))
    p = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=edges.size + 1) / ref.size
    q = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=edges.size + 1) / cur.size
    p, q = np.maximum(p, EPS), np.maximum(q, EPS)
    return float(np.sum((q - p) * np.log(q / p)))


def ks(reference: np.ndarray, recent: np.ndarray) -> float:
    from scipy.stats import ks_2samp

    ref, cur = reference[np.isfinite(reference)], recent[np.isfinite(recent)]
    if ref.size == 0 or cur.size == 0:
        return float("nan")
    return float(ks_2samp(ref, cur).statistic)


def class_psi(reference: np.ndarray, recent: np.ndarray) -> float:
    p = np.maximum(np.bincount(reference, minlength=3) / max(reference.size, 1), EPS)
    q = np.maximum(np.bincount(recent, minlength=3) / max(recent.size, 1), EPS)
    return float(np.sum((q - p) * np.log(q / p)))


def used_columns(bundle: Bundle) -> dict[str, list[str]]:
    """Per timeframe, the feature columns (own and MTF) the bundle's models read."""
    out: dict[str, set[str]] = {}
    for loaded in bundle.bases.values():
        if loaded.config.feature_set != "raw_ohlcv":
            out.setdefault(loaded.config.timeframe, set()).update(loaded.features)
    return {tf: sorted(c) for tf, c in out.items()}


def training_end(run: Path, fitted: dict[str, Any]) -> int:
    """The last training timestamp (int ns): the fitted state's ``fit_end``, else the run's val start."""
    if fitted.get("fit_end"):
        return int(
            pl.Series([fitted["fit_end"]]).str.to_datetime(time_zone="UTC", time_unit="ns").dt.epoch("ns")[0]
        )
    splits = run / "splits.json"
    if not splits.is_file():
        raise ArtifactError(f"{splits}: missing; drift needs the training period of the bundle's run")
    return int(json.loads(splits.read_text())["val_start_ns"]) - 1


class DriftMonitor:
    """The bundle's training reference, loaded once; ``scores`` compares recent frames with it."""

    def __init__(self, bundle: Bundle, config: DriftConfig | None = None):
        self.bundle, self.config = bundle, config or DriftConfig()
        run = bundle.directory.parent.parent
        self.columns = used_columns(bundle)
        self.reference: dict[str, pl.DataFrame] = {}
        for tf, cols in self.columns.items():
            path = run / "features" / f"{tf}.parquet"
            if not path.is_file():
                raise ArtifactError(
                    f"{path}: the training features of the bundle's run are missing; drift needs the run "
                    "directory the bundle was trained in (RUN/ensembles/<id>)"
                )
            frame = pl.read_parquet(path, columns=["timestamp", "warm", *cols])
            frame = frame.filter(
                pl.col("timestamp").dt.epoch("ns") <= training_end(run, bundle.fitted.get(tf, {}))
            )
            self.reference[tf] = frame.filter(pl.col("warm")).select(cols)
        preds = bundle.directory / "predictions_val.parquet"
        if not preds.is_file():
            raise ArtifactError(f"{preds}: missing from the bundle; retrain the ensemble")
        self.reference_predictions = pl.read_parquet(preds).select(PROBA_COLUMNS)

    def recent(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The recent window of a feature or prediction frame: its last ``window`` (warm) rows."""
        return (frame.filter(pl.col("warm")) if "warm" in frame.columns else frame).tail(self.config.window)

    def scores(
        self, frames: dict[str, pl.DataFrame], predictions: pl.DataFrame | None
    ) -> list[dict[str, Any]]:
        """Rows of (target, kind, timeframe, psi, ks, n_reference, n_recent, status); recent = ``recent(frame)``."""
        out = []
        for tf, cols in self.columns.items():
            if tf not in frames:
                continue
            recent, ref = self.recent(frames[tf]), self.reference[tf]
            for c in cols:
                if c not in recent.columns:
                    continue
                a, b = ref[c].to_numpy().astype(np.float64), recent[c].to_numpy().astype(np.float64)
                p, k = psi(a, b, self.config.bins), ks(a, b)
                out.append(self._row(c, "feature", tf, p, k, a.size, b.size))
        if predictions is not None and predictions.height:
            ref = self.reference_predictions.to_numpy()
            cur = self.recent(predictions).select(PROBA_COLUMNS).to_numpy()
            p = class_psi(ref.argmax(axis=1), cur.argmax(axis=1))
            k = max(ks(ref[:, 0], cur[:, 0]), ks(ref[:, 2], cur[:, 2]))
            out.append(self._row("predicted_class", "prediction", None, p, k, ref.shape[0], cur.shape[0]))
        return out

    def class_shares(self, predictions: pl.DataFrame) -> dict[str, list[Any]]:
        """Shares of the argmax classes (short, neutral, long): training reference vs the recent window."""

        def shares(proba: np.ndarray) -> list[float]:
            counts = np.bincount(proba.argmax(axis=1), minlength=3) if proba.size else np.zeros(3)
            return [float(x) for x in counts / max(proba.shape[0], 1)]

        recent = self.recent(predictions).select(PROBA_COLUMNS).to_numpy()
        reference = shares(self.reference_predictions.to_numpy())
        return {"classes": list(CLASS_NAMES), "reference": reference, "recent": shares(recent)}

    def _row(
        self, target: str, kind: str, tf: str | None, p: float, k: float, n_ref: int, n_cur: int
    ) -> dict[str, Any]:
        return {"target": target, "kind": kind, "timeframe": tf, "psi": p, "ks": k, "n_reference": n_ref,
                "n_recent": n_cur, "status": self.config.status(p, k)}  # fmt: skip


def _span(frame: pl.DataFrame) -> dict[str, Any]:
    """Rows and first/last timestamp (ISO, UTC) of a recent window."""
    ts = frame["timestamp"]
    iso = (lambda v: v.strftime("%Y-%m-%dT%H:%M:%SZ")) if frame.height else (lambda v: None)
    return {"rows": frame.height, "start": iso(ts.min()), "end": iso(ts.max())}


def monitor_file(
    bundle_dir: Path, data_path: Path, config: DriftConfig | None = None, options: InputOptions | None = None
) -> dict[str, Any]:
    """Drift of a data file (batch features and predictions) against the bundle's training period;
    the file is read with the bundle's conventions unless ``options`` describe it otherwise.

    The result records what was compared: the bundle (id, generation, hash of its file manifest),
    the data file (sha256), the config used, and per timeframe (and for the predictions) the rows
    and time span of the recent window — ``serving.drift_results`` writes it as an artifact.
    """
    from mlfactory.artifacts import MANIFEST, sha256_file
    from mlfactory.run_dir import artifact_generation
    from mlfactory.serving.bundle import load_bundle
    from mlfactory.serving.conventions import read_new_bars
    from mlfactory.serving.inference import InferenceData, predict_data

    bundle = load_bundle(bundle_dir)
    monitor = DriftMonitor(bundle, config)
    new = read_new_bars(bundle, Path(data_path), options)
    data = InferenceData(new.bars, bundle)
    predictions, _ = predict_data(bundle, data)
    frames = {tf: data.features(tf) for tf in monitor.columns}
    rows = monitor.scores(frames, predictions)
    counts = {s: sum(r["status"] == s for r in rows) for s in ("ok", "warn", "alert")}
    windows = {tf: _span(monitor.recent(f)) for tf, f in frames.items()}
    windows["predictions"] = _span(monitor.recent(predictions))
    manifest = bundle.directory / MANIFEST
    return {
        "bundle": str(bundle.directory), "bundle_id": bundle.directory.name,
        "bundle_sha256": sha256_file(manifest) if manifest.is_file() else None,
        "generation": artifact_generation(bundle.directory),
        "data": str(data_path), "data_sha256": sha256_file(Path(data_path)),
        "config": monitor.config.model_dump(), "conventions": new.conventions, "windows": windows,
        "summary": counts, "class_shares": monitor.class_shares(predictions), "scores": rows,
    }  # fmt: skip
