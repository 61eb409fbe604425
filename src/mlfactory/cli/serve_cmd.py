"""``mlfactory serve``: the live predictor over HTTP (FastAPI + uvicorn, imported inside the command)."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Annotated

import typer

from mlfactory.cli.common import console, user_errors
from mlfactory.cli.options import Format, Instruments, Stamp, Symbol, Tz, input_options
from mlfactory.errors import ConfigError


@user_errors
def serve(
    bundle: Annotated[Path, typer.Option("--bundle", "-b", help="ensemble directory (RUN/ensembles/<id>)")],
    warmup: Annotated[
        Path | None, typer.Option("--warmup", help="1-minute history to warm the features up (CSV, Parquet)")
    ] = None,
    state: Annotated[
        Path | None,
        typer.Option("--state", help="live state saved by an earlier session (instead of --warmup)"),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port")] = 8000,
    drift_window: Annotated[int, typer.Option("--drift-window", help="recent rows compared for drift")] = 500,
    save_state: Annotated[
        Path | None, typer.Option("--save-state", help="write the live state here when the server stops")
    ] = None,
    fmt: Format = None,
    stamp: Stamp = None,
    tz: Tz = None,
    symbol: Symbol = None,
    instruments: Instruments = None,
) -> None:
    """Serve predictions: POST closed 1-minute bars to /bars, read /predictions, /health, /metrics.

    Posted bars are UTC bar closes; the --warmup file is read with the conventions of the bundle's
    training data unless --format/--stamp/--tz describe it otherwise.
    """
    from mlfactory.serving.bundle import load_bundle
    from mlfactory.serving.conventions import check_identity, read_new_bars
    from mlfactory.serving.live import LivePredictor

    loaded = load_bundle(bundle)
    if (warmup is None) == (state is None):
        raise ConfigError(
            "serve: pass exactly one of --warmup FILE (a history) or --state DIR (a saved state)"
        )
    options = input_options(fmt, stamp, tz, symbol, instruments)
    warmup_conventions = None
    if warmup is not None:
        new = read_new_bars(loaded, warmup, options)
        live = LivePredictor.from_history(loaded, new.bars)
        warmup_conventions = new.conventions
    else:
        if options.describes_a_file:
            raise ConfigError(
                "serve: --format, --stamp and --tz describe the --warmup file; a saved --state has no file to read"
            )
        check_identity(loaded, options)
        live = LivePredictor.load_state(loaded, state)
    try:
        import uvicorn

        from mlfactory.serving.server import create_app
    except ImportError as exc:
        raise ConfigError(
            f"serve needs FastAPI and uvicorn ({exc}); install them with pip install 'mlfactory[serve]'"
        ) from exc
    from mlfactory.serving.drift import DriftConfig, DriftMonitor

    drift = DriftMonitor(loaded, DriftConfig(window=drift_window))

    console.print(
        f"serving {loaded.spec.ensemble_id} on http://{host}:{port} ({live.bars_seen:,} bars of warm-up)"
    )
    # uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown: turn them into SystemExit so the
    # state is still written.
    signal.signal(signal.SIGTERM, _exit)
    try:
        uvicorn.run(
            create_app(live, drift, warmup=warmup_conventions), host=host, port=port, log_level="warning"
        )
    except (SystemExit, KeyboardInterrupt):
        pass
    finally:
        if save_state is not None:
            console.print(f"live state saved to {live.save_state(save_state)}")


def _exit(signum: int, frame: object) -> None:
    raise SystemExit(0)
