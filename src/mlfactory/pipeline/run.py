"""``pipeline run``: raw bars → canonical 1-minute store → ladder (→ features, labels, splits).

Each stage is a function of its inputs; its cache key is the hash of those inputs, so an
unchanged stage is skipped on a rerun and a changed config reruns exactly what depends on it. A
cached stage is trusted only while its outputs hash to the values recorded when they were written
(a truncated or edited file is recomputed). Every file is written atomically, one ``pipeline run``
holds the run's writer lock at a time, and the manifest says ``building`` until the last stage has
finished. Data or config of another generation move the run's models, ensembles and reports aside.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from mlfactory.artifacts import atomic_write_parquet, sha256_file
from mlfactory.config import PipelineConfig
from mlfactory.data.ingest import IngestInfo, ingest_file
from mlfactory.data.instruments import Instrument, require_costs
from mlfactory.data.resample import build_ladder, to_ladder_frame_1m
from mlfactory.data.roll_files import stitch_contract_column
from mlfactory.data.validate import ValidationReport, validate_bars
from mlfactory.errors import DataError
from mlfactory.locks import writer_lock
from mlfactory.pipeline.dataset_stages import decision_schedule, features_stage, labels_stage
from mlfactory.run_dir import (
    BUILDING,
    COMPLETE,
    RunDir,
    StageRecorder,
    generation_id,
    move_derived_aside,
    package_versions,
    stable_hash,
)

ProgressFn = Any  # callable(str) -> None


@dataclass
class PipelineResult:
    run: RunDir
    manifest: dict[str, Any]
    validation: dict[str, Any]
    ladder_rows: dict[str, int] = field(default_factory=dict)
    cached_stages: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "run": str(self.run.root),
            "symbol": self.manifest["symbol"],
            "input_sha256": self.manifest["input"]["sha256"],
            "rows": self.validation.get("rows_out"),
            "validation_counts": self.validation.get("counts"),
            "gaps": self.validation.get("gaps"),
            "rolls": (self.validation.get("rolls") or {}).get("rolls", []),
            "ladder_rows": self.ladder_rows,
            "base_timeframe": self.manifest["config"]["ladder"]["base_timeframe"],
            "mtf_timeframes": self.manifest.get("mtf_timeframes"),
            "features": self.manifest.get("features"),
            "labels": self.manifest.get("labels"),
            "stage_seconds": {k: v.get("seconds") for k, v in self.manifest["stages"].items()},
            "cached_stages": self.cached_stages,
        }


def load_and_validate(
    path: Path, instrument: Instrument, config: PipelineConfig
) -> tuple[pl.DataFrame, ValidationReport]:
    """Ingest and validate one file with the config's format, timezone, stamp and policies."""
    bars, report, _ = read_bars(path, instrument, config)
    return bars, report


def read_bars(
    path: Path,
    instrument: Instrument,
    config: PipelineConfig,
    *,
    check_ingested: Callable[[pl.DataFrame, IngestInfo], None] | None = None,
) -> tuple[pl.DataFrame, ValidationReport, IngestInfo]:
    """``load_and_validate`` that also says how the file was read (its layout, stamp and timezone).

    ``check_ingested`` sees the ingested (unvalidated, canonical) bars and may refuse them.
    """
    tz = config.data.timezone or instrument.timezone
    raw, info = ingest_file(path, timezone=tz, stamp=config.data.stamp, fmt=config.data.format)
    if check_ingested is not None:
        check_ingested(raw, info)
    stitched = None
    if info.format == "generic":  # vendor layouts hold one contract and no side columns
        rc = config.data.rolls  # a file with a contract column is stitched into one continuous series
        raw, stitched = stitch_contract_column(
            raw,
            Path(path),
            instrument,
            rule=rc.rule,
            adjust=rc.adjust,
            days_before_expiry=rc.days_before_expiry,
        )
    bars, report = validate_bars(
        raw, path=Path(path), instrument=instrument, policies=config.data.validation, stamp=info.stamp
    )
    report.ingest = info.describe()
    report.format = info.format
    if stitched is not None:
        report.rolls = stitched.to_dict()
    return bars, report, info


def data_conventions(instrument: Instrument, info: IngestInfo) -> dict[str, Any]:
    """The conventions the run's bars were read with, resolved (never ``auto`` or null): what a
    bundle records so that new bars are read the same way."""
    return {
        "symbol": instrument.symbol,
        "format": info.format,
        "stamp": info.stamp,
        "timezone": info.timezone,
    }


def run_pipeline(
    data_path: Path,
    instrument: Instrument,
    config: PipelineConfig,
    out: Path,
    *,
    progress: ProgressFn = lambda msg: None,
    force: bool = False,
    lock_timeout: float | None = None,
) -> PipelineResult:
    data_path = Path(data_path)
    require_costs(instrument)
    if not data_path.is_file():
        raise DataError(
            f"{data_path}: no such file; pass --data with a CSV, CSV.gz or Parquet file of 1-minute bars"
        )
    run = RunDir(Path(out))
    run.root.mkdir(parents=True, exist_ok=True)
    with writer_lock(run.manifest_path, timeout=lock_timeout, what="run directory"):
        return _run_stages(data_path, instrument, config, run, progress, force)


def _run_stages(
    data_path: Path,
    instrument: Instrument,
    config: PipelineConfig,
    run: RunDir,
    progress: ProgressFn,
    force: bool,
) -> PipelineResult:
    on_disk = run.read_manifest()
    previous = {} if force else on_disk
    input_sha = sha256_file(data_path)
    generation = generation_id(input_sha, config.model_dump(mode="json"))
    if on_disk.get("generation") != generation:
        moved = move_derived_aside(run, on_disk.get("generation"))
        if moved is not None:
            progress(f"new generation {generation}: models and reports of the old one moved to {moved}")
    manifest: dict[str, Any] = {
        "status": BUILDING,
        "generation": generation,
        "mlfactory": "run",
        "created": previous.get("created") or datetime.now(UTC).isoformat(timespec="seconds"),
        "symbol": instrument.symbol,
        "instrument": instrument.model_dump(),
        "input": {"path": str(data_path.resolve()), "sha256": input_sha, "bytes": data_path.stat().st_size},
        "config": config.model_dump(mode="json"),
        "seed": config.seed,
        "versions": package_versions(),
        "stages": previous.get("stages", {}),
        "features": previous.get("features"),
        "labels": previous.get("labels"),
        "mtf_timeframes": list(config.ladder.resolved_mtf_timeframes),
    }
    rec = StageRecorder(run, manifest)
    cached: list[str] = []

    data_key = stable_hash(
        {"sha": input_sha, "data": manifest["config"]["data"], "instrument": manifest["instrument"]}
    )
    if rec.is_cached("data", data_key) and previous.get("conventions"):
        cached.append("data")
        progress("data: cached")
        bars_1m = pl.read_parquet(run.bars_path("1m"))
        validation = previous.get("validation", {})
        conventions = previous["conventions"]
    else:
        progress(f"data: ingest and validate {data_path.name}")
        with rec.stage("data", data_key) as st:
            bars_1m, report, info = read_bars(data_path, instrument, config)
            conventions = data_conventions(instrument, info)
            progress(f"data: {report.ingest}")
            for warning in report.warnings:
                progress(f"warning: {warning}")
            bars_1m = bars_1m.drop("row")
            run.bars_path("1m").parent.mkdir(parents=True, exist_ok=True)
            atomic_write_parquet(to_ladder_frame_1m(bars_1m), run.bars_path("1m"))
            validation = report.to_dict()
            manifest["validation"] = validation
            st["outputs"].append(run.bars_path("1m"))
    manifest["validation"] = validation
    manifest["conventions"] = conventions
    manifest["rolls"] = validation.get("rolls")

    ladder_key = stable_hash({"data": data_key, "ladder": manifest["config"]["ladder"]})
    ladder_rows: dict[str, int] = {"1m": bars_1m.height}
    tfs = config.ladder.timeframes
    if rec.is_cached("ladder", ladder_key):
        cached.append("ladder")
        progress("ladder: cached")
        for tf in tfs:
            ladder_rows[tf] = pl.scan_parquet(run.bars_path(tf)).select(pl.len()).collect().item()
    else:
        progress(f"ladder: resample to {', '.join(tfs)}")
        with rec.stage("ladder", ladder_key) as st:
            if "trading_day" not in bars_1m.columns:
                raise DataError(
                    f"{run.bars_path('1m')}: canonical bars lack session columns; rerun with --force"
                )
            ladder = build_ladder(bars_1m, tfs, partial=config.ladder.partial_bars)
            for tf, frame in ladder.items():
                if tf == "1m":
                    continue
                atomic_write_parquet(frame, run.bars_path(tf))
                st["outputs"].append(run.bars_path(tf))
                ladder_rows[tf] = frame.height
    manifest["ladder_rows"] = ladder_rows
    run.write_manifest(manifest)

    ladder_frames = {"1m": bars_1m} | {tf: pl.read_parquet(run.bars_path(tf)) for tf in tfs}
    clock = decision_schedule(ladder_frames[config.ladder.base_timeframe], config)
    cfg = manifest["config"]
    split_key = {
        "ladder": ladder_key,
        "splits": cfg["splits"],
        "atr": cfg["labels"]["atr_window"],
        "base": cfg["ladder"]["base_timeframe"],
    }
    features_key = stable_hash(split_key | {"features": cfg["features"], "mtf": manifest["mtf_timeframes"]})
    if rec.is_cached("features", features_key):
        cached.append("features")
        progress("features: cached")
    else:
        with rec.stage("features", features_key) as st:
            outputs, manifest["features"] = features_stage(
                run, ladder_frames, instrument, config, clock, progress
            )
            st["outputs"].extend(outputs)
    labels_key = stable_hash(split_key | {"labels": cfg["labels"], "seed": config.seed})
    if rec.is_cached("labels", labels_key):
        cached.append("labels")
        progress("labels: cached")
    else:
        with rec.stage("labels", labels_key) as st:
            outputs, manifest["labels"] = labels_stage(run, bars_1m, instrument, config, clock, progress)
            st["outputs"].extend(outputs)
    manifest["status"] = COMPLETE
    run.write_manifest(manifest)
    return PipelineResult(run, manifest, validation, ladder_rows, cached)
