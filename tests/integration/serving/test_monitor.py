"""`mlfactory monitor`: drift of a file against the bundle's training period (table and --json)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from mlfactory.cli.app import app
from mlfactory.serving.bundle import Bundle
from mlfactory.serving.drift import used_columns


def test_monitor_scores_every_used_feature_and_sees_a_volume_shift(
    tabular_bundles: dict[str, Bundle], small_run: Path, tmp_path: Path
) -> None:
    bundle = tabular_bundles["meta"]
    manifest = json.loads((small_run / "manifest.json").read_text())
    raw = pl.read_parquet(manifest["input"]["path"])
    shifted = tmp_path / "shifted.parquet"
    n = raw.height
    raw.with_columns(
        pl.when(pl.arange(0, n) >= n - 3_000).then(pl.col("volume") * 20).otherwise(pl.col("volume"))
    ).write_parquet(shifted)
    runner = CliRunner()
    res = {}
    for name, path in (("same", manifest["input"]["path"]), ("shifted", str(shifted))):
        r = runner.invoke(
            app,
            [
                "monitor",
                "--bundle",
                str(bundle.directory),
                "--data",
                path,
                "--json",
                "--window",
                "300",
                "--no-save",
            ],
        )
        assert r.exit_code == 0, r.output
        res[name] = {s["target"]: s for s in json.loads(r.stdout)["scores"]}
    used = {c for cols in used_columns(bundle).values() for c in cols}
    assert set(res["same"]) == used | {"predicted_class"}
    volume = [c for c in used if "vol" in c and c in res["same"]]
    assert volume
    assert max(res["shifted"][c]["psi"] - res["same"][c]["psi"] for c in volume) > 0.5
    table = runner.invoke(
        app, ["monitor", "--bundle", str(bundle.directory), "--data", str(shifted), "--no-save"]
    )
    assert table.exit_code == 0 and "predicted_class" in table.output
