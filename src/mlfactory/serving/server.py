"""``mlfactory serve``: the live predictor behind HTTP (FastAPI; uvicorn runs it).

- ``POST /bars``: one bar object or a list (``timestamp`` ISO 8601 UTC at the bar close, ``open``,
  ``high``, ``low``, ``close``, ``volume``). The whole request is checked first (schema, ingest checks,
  the bundle's validation policies, order against the last accepted bar); any problem → 422 naming
  the row and field, and the state is unchanged. Bars a policy drops (a duplicate under
  ``duplicates=drop``) are counted in the response, never dropped silently.
- ``GET /predictions/latest``, ``GET /predictions?since=ISO``: records with ``timestamp`` and the
  columns of ``predict``'s output file.
- ``GET /health``; ``GET /metrics`` (Prometheus text: requests, errors, latency histogram, bars
  seen, decisions, drift scores); the OpenAPI schema at ``/openapi.json``.

FastAPI is imported here only; the CLI imports this module inside the command.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from datetime import UTC, datetime
from typing import Any

import numpy as np
import polars as pl
from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from mlfactory.errors import DataError, MlfactoryError
from mlfactory.serving.inference import PREDICTION_COLUMNS
from mlfactory.serving.live import LivePredictor
from mlfactory.serving.metrics import Metrics

KEPT_PREDICTIONS = 100_000


class Bar(BaseModel):
    """One closed 1-minute bar."""

    model_config = ConfigDict(extra="forbid")
    timestamp: datetime = Field(description="the bar's close, ISO 8601 with a UTC offset")
    open: float = Field(allow_inf_nan=False)
    high: float = Field(allow_inf_nan=False)
    low: float = Field(allow_inf_nan=False)
    close: float = Field(allow_inf_nan=False)
    volume: float = Field(allow_inf_nan=False)


class Prediction(BaseModel):
    timestamp: str
    p_short: float
    p_neutral: float
    p_long: float
    position: float
    bases_used: str = Field(description=PREDICTION_COLUMNS["bases_used"])
    combiner: str = Field(description=PREDICTION_COLUMNS["combiner"])


class BarsAccepted(BaseModel):
    accepted: int
    dropped: dict[str, int]
    predictions: list[Prediction]


class Conventions(BaseModel):
    symbol: str
    format: str
    stamp: str = Field(description="whether timestamps mark the bar's open or close")
    timezone: str = Field(description="the timezone of naive timestamps")


class ServedConventions(BaseModel):
    bars: Conventions = Field(
        description="POST /bars: JSON bars, timestamps with a UTC offset at the bar close"
    )
    training: Conventions = Field(description="how the bundle's training bars were read")
    warmup: Conventions | None = Field(description="how the --warmup file was read (none: a saved state)")


class Health(BaseModel):
    status: str
    bundle: str
    bars_seen: int
    decisions_seen: int
    last_bar: str | None
    predictions: int
    conventions: ServedConventions


class Problem(BaseModel):
    detail: str


def _records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return frame.with_columns(
        pl.col("timestamp").dt.strftime("%Y-%m-%dT%H:%M:%SZ"), pl.col("position").cast(pl.Float64)
    ).to_dicts()


def create_app(live: LivePredictor, drift: Any = None, *, warmup: dict[str, Any] | None = None) -> FastAPI:
    """The HTTP app over one live predictor (requests are serialised: bars arrive in order).

    ``warmup``: the conventions the warm-up file was read with (``/health`` states them).
    """
    app = FastAPI(
        title="mlfactory live predictor",
        version="1",
        description=f"Bundle {live.bundle.spec.ensemble_id}: POST closed 1-minute bars, read predictions.",
    )
    lock = threading.Lock()
    kept: deque[dict[str, Any]] = deque(maxlen=KEPT_PREDICTIONS)
    metrics = Metrics()
    training = live.bundle.spec.conventions
    conventions = ServedConventions(
        bars=Conventions(symbol=training.symbol, format="json", stamp="close", timezone="UTC"),
        training=Conventions(**training.model_dump()),
        warmup=None if warmup is None else Conventions(**warmup),
    )

    @app.middleware("http")
    async def _measure(request: Request, call_next):
        start = time.perf_counter()
        response = await call_next(request)
        metrics.observe(request.url.path, response.status_code, time.perf_counter() - start)
        return response

    @app.exception_handler(MlfactoryError)
    async def _bad_input(request: Request, exc: MlfactoryError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": str(exc)})

    @app.post("/bars", response_model=BarsAccepted, responses={422: {"model": Problem}})
    def post_bars(bars: Bar | list[Bar]) -> BarsAccepted:
        items = bars if isinstance(bars, list) else [bars]
        records = [b.model_dump() for b in items]
        for i, r in enumerate(records):
            if r["timestamp"].tzinfo is None:
                raise DataError(
                    f"POST /bars: row {i}, field 'timestamp': {r['timestamp'].isoformat()} has no UTC offset; "
                    "send e.g. 2024-03-04T14:31:00Z"
                )
        with lock:
            before = sum(live.dropped.values())
            frame = live.validate(records, source="POST /bars") if records else None
            out = live.update_validated(frame) if frame is not None else None
            preds = _records(out) if out is not None and out.height else []
            kept.extend(preds)
            accepted = 0 if frame is None else frame.height
            dropped = sum(live.dropped.values()) - before
        return BarsAccepted(
            accepted=accepted,
            dropped={"policy_drops": dropped},
            predictions=[Prediction(**p) for p in preds],
        )

    @app.get("/predictions/latest", response_model=Prediction, responses={404: {"model": Problem}})
    def latest():
        if not kept:
            return JSONResponse(status_code=404, content={"detail": "no prediction yet"})
        return kept[-1]

    @app.get("/predictions", response_model=list[Prediction])
    def since(since: datetime | None = Query(default=None, description="ISO 8601; records after it")):
        if since is None:
            return list(kept)
        if since.tzinfo is None:
            return JSONResponse(status_code=422, content={"detail": "since: give a UTC offset (e.g. ...Z)"})
        cut = _iso_utc(since)
        return [p for p in kept if p["timestamp"] > cut]

    @app.get("/health", response_model=Health)
    def health() -> Health:
        last = live.ladder.last_ts
        return Health(
            status="ok",
            bundle=live.bundle.spec.ensemble_id,
            bars_seen=live.bars_seen,
            decisions_seen=live.decisions_seen,
            last_bar=None if last is None else str(np.datetime64(last, "s")) + "Z",
            predictions=len(kept),
            conventions=conventions,
        )

    @app.get("/metrics", response_class=PlainTextResponse)
    def prometheus() -> str:
        gauges = {
            "mlfactory_bars_seen_total": live.bars_seen,
            "mlfactory_decisions_total": live.decisions_seen,
            "mlfactory_predictions_total": len(kept),
            "mlfactory_bars_dropped_total": sum(live.dropped.values()),
        }
        scores = {}
        if drift is not None and kept:
            rows = drift.scores(live.feature_frames(), pl.DataFrame(list(kept)))
            scores = {(r["target"], r["timeframe"]): {"psi": r["psi"], "ks": r["ks"]} for r in rows}
        return metrics.render(gauges, scores)

    return app


def _iso_utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
