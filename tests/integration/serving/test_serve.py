"""`mlfactory serve` as a real uvicorn process on 127.0.0.1, driven over HTTP with httpx."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import polars as pl
import pytest

from mlfactory.models.base import PROBA_COLUMNS
from mlfactory.serving.bundle import Bundle
from mlfactory.serving.inference import predict_bars

REPLAY_MINUTES = 90
STARTUP_S = 180


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args: list[str]) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    src = str(Path(__file__).resolve().parents[3] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cmd = [
        sys.executable,
        "-c",
        "from mlfactory.cli.app import app; app()",
        "serve",
        *args,
        "--port",
        str(port),
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_S
    while True:
        if proc.poll() is not None:
            pytest.fail(f"serve exited with {proc.returncode}: {proc.stdout.read().decode()[-2000:]}")
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"serve did not answer /health within {STARTUP_S} s")
        time.sleep(0.5)


def _stop(proc: subprocess.Popen) -> str:
    proc.terminate()
    out, _ = proc.communicate(timeout=60)
    return out.decode()


def test_a_saved_state_serves_without_the_history_and_is_saved_again(
    tabular_bundles: dict[str, Bundle], bars_of, tmp_path: Path
) -> None:
    from mlfactory.serving.live import LivePredictor

    bundle = tabular_bundles["weighted_average"]
    bars = bars_of(bundle)
    live = LivePredictor.from_history(bundle, bars.head(bars.height - 30))
    live.save_state(tmp_path / "state")
    proc, base = _start(["--bundle", str(bundle.directory), "--state", str(tmp_path / "state"),
                         "--save-state", str(tmp_path / "after")])  # fmt: skip
    try:
        assert httpx.get(f"{base}/health").json()["bars_seen"] == live.bars_seen
        r = httpx.post(f"{base}/bars", json=_records(bars.tail(30)), timeout=60)
        assert r.status_code == 200 and r.json()["accepted"] == 30
    finally:
        out = _stop(proc)
    assert "live state saved" in out
    again = LivePredictor.load_state(bundle, tmp_path / "after")
    assert again.bars_seen == live.bars_seen + 30


@pytest.fixture(scope="module")
def server(tabular_bundles: dict[str, Bundle], bars_of, small_run: Path, tmp_path_factory) -> Iterator[dict]:
    """The server warmed up on the run's bars except the last REPLAY_MINUTES, which the tests post."""
    bundle = tabular_bundles["weighted_average"]
    bars = bars_of(bundle)
    split = bars.height - REPLAY_MINUTES
    cut = bars["timestamp"][split - 1]
    manifest = json.loads((small_run / "manifest.json").read_text())
    warm = tmp_path_factory.mktemp("serve") / "warmup.parquet"
    pl.read_parquet(manifest["input"]["path"]).filter(pl.col("timestamp") <= cut).write_parquet(warm)
    proc, base = _start(["--bundle", str(bundle.directory), "--warmup", str(warm)])
    try:
        yield {"base": base, "bundle": bundle, "bars": bars, "split": split}
    finally:
        _stop(proc)


def _records(frame: pl.DataFrame) -> list[dict]:
    return frame.select(
        pl.col("timestamp").dt.strftime("%Y-%m-%dT%H:%M:%SZ"), "open", "high", "low", "close", "volume"
    ).to_dicts()


def test_health_states_the_conventions_of_the_bars_the_training_and_the_warmup(server: dict) -> None:
    conv = httpx.get(f"{server['base']}/health").json()["conventions"]
    training = server["bundle"].spec.conventions.model_dump()
    assert conv["training"] == training and conv["warmup"] == training
    assert conv["bars"] == {"symbol": "MES", "format": "json", "stamp": "close", "timezone": "UTC"}


def test_bad_input_is_422_naming_the_row_and_field_and_changes_nothing(server: dict) -> None:
    base, bars, split = server["base"], server["bars"], server["split"]
    before = httpx.get(f"{base}/health").json()
    good = _records(bars.slice(split, 2))
    bad_list = [good[0], {k: v for k, v in good[1].items() if k != "close"}]
    r = httpx.post(f"{base}/bars", json=bad_list)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][-2:] == [1, "close"] or "close" in json.dumps(r.json())
    r = httpx.post(f"{base}/bars", json={**good[0], "timestamp": "not a time"})
    assert r.status_code == 422 and "timestamp" in json.dumps(r.json())
    r = httpx.post(f"{base}/bars", json={**good[0], "high": good[0]["low"] - 100, "open": -5.0})
    assert r.status_code == 422 and "row 0" in r.json()["detail"]
    assert httpx.get(f"{base}/health").json() == before


def test_a_replay_of_the_last_minutes_gives_the_batch_predictions(server: dict) -> None:
    base, bars, split, bundle = server["base"], server["bars"], server["split"], server["bundle"]
    records = _records(bars.slice(split))
    posted = 0
    for i in range(0, len(records), 7):  # lists of 7 and, every other time, single objects
        chunk = records[i : i + 7]
        for body in [chunk] if (i // 7) % 2 else chunk:
            r = httpx.post(f"{base}/bars", json=body, timeout=60)
            assert r.status_code == 200, r.text
            posted += r.json()["accepted"]
    assert posted == len(records)
    since = bars["timestamp"][split - 1].strftime("%Y-%m-%dT%H:%M:%SZ")
    got = pl.DataFrame(httpx.get(f"{base}/predictions", params={"since": since}).json())
    batch, _ = predict_bars(bundle, bars)
    expected = batch.filter(pl.col("timestamp") > bars["timestamp"][split - 1])
    assert got.height == expected.height > 0
    assert got["timestamp"].to_list() == expected["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ").to_list()
    np.testing.assert_allclose(
        got.select(PROBA_COLUMNS).to_numpy(), expected.select(PROBA_COLUMNS).to_numpy(), rtol=0, atol=1e-9
    )  # whole-file batch: see WHOLE_FILE in test_live_predictor.py
    latest = httpx.get(f"{base}/predictions/latest").json()
    assert latest["timestamp"] == got["timestamp"][-1]
    # a duplicate of the last bar follows the bundle's policy (drop) and is counted, not silently lost
    r = httpx.post(f"{base}/bars", json=records[-1])
    assert r.status_code == 200 and r.json()["dropped"]["policy_drops"] == 1
    metrics = httpx.get(f"{base}/metrics").text
    assert 'mlfactory_requests_total{path="/bars",status="200"}' in metrics
    assert "mlfactory_request_seconds_bucket" in metrics and "mlfactory_bars_seen_total" in metrics
    assert 'mlfactory_drift{target="predicted_class",stat="psi"}' in metrics


def test_the_openapi_schema_fuzzed_gives_no_server_error(server: dict) -> None:
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    schema = schemathesis.openapi.from_url(f"{server['base']}/openapi.json")
    checked = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def call(case) -> None:
            response = case.call(base_url=server["base"], timeout=30)
            assert response.status_code < 500, (
                f"{case.method} {case.path}: {response.status_code} {response.text}"
            )

        call()
        checked += 1
    assert checked >= 5


def test_bounded_load(server: dict, capsys) -> None:
    """At most 2,000 requests; prints the latency figures (never asserted as timings)."""
    base = server["base"]
    lat = []
    with httpx.Client(base_url=base) as client:
        for i in range(400):
            t = time.perf_counter()
            r = client.get("/predictions/latest" if i % 2 else "/health")
            lat.append(time.perf_counter() - t)
            assert r.status_code in (200, 404)
    ms = np.percentile(np.array(lat) * 1e3, [50, 99])
    with capsys.disabled():
        print(f"\nserve load: {len(lat)} requests, p50 {ms[0]:.2f} ms, p99 {ms[1]:.2f} ms")
