"""Benchmark: training and inference throughput of every sequence model.

Run: ``.venv/bin/python benchmarks/bench_neural.py [--models lstm,tcn] [--steps 5] [--repeat 3]
[--threads N] [--memory-rows N]``. For each model (default sizes from its Params, ``seq_len`` 60,
100 features, batch 256) on CPU and, when torch sees one, on CUDA (with mixed precision): training
samples/s through ``fit`` (one epoch of ``--steps`` batches streamed from a window view, after an
untimed warm-up fit) and inference samples/s through ``predict_proba``, each the best of
``--repeat`` runs (the machine is shared, so single runs are noisy). ``patchtst[4D]`` is PatchTST
on a 3-stream × 5-channel multi-stream view (its default routing: 1m + 5m + 15m raw OHLCV,
seq_len 64). Prints a table.

``--memory-rows N`` (e.g. 300000) also reports the peak RSS, in a fresh process, of fitting each
model on a ``(N, 100)`` float32 feature matrix with windows spread over all of it (``--steps``
batches): the matrix is held once and windows are materialised batch by batch, so the peak is the
matrix plus one batch and the network, whatever the number of windows.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np
import torch

from mlfactory.adapters.views import MultiStreamView, WindowView
from mlfactory.models.base import Dataset, InputKind
from mlfactory.models.registry import all_models, get_model_class

SEQ_LEN, N_FEATURES, BATCH = 60, 100, 256
MIN = 60_000_000_000


def _view(n: int, seq_len: int, n_features: int, rng: np.random.Generator) -> WindowView:
    """``n`` overlapping windows over one ``(n + seq_len - 1, F)`` matrix, as the adapters build them."""
    values = rng.normal(size=(n + seq_len - 1, n_features)).astype(np.float32)
    ends = np.arange(seq_len - 1, n + seq_len - 1, dtype=np.int64)
    return WindowView(values, ends, seq_len, ends * MIN, tuple(f"f{i}" for i in range(n_features)))


def _dataset(name: str, n: int, rng: np.random.Generator) -> Dataset:
    y = rng.integers(-1, 2, size=n).astype(np.int8)
    if name == "patchtst[4D]":
        streams = tuple(_view(n, 64, 5, rng) for _ in range(3))
        return Dataset(MultiStreamView(streams, ("1m", "5m", "15m")), y)
    return Dataset(_view(n, SEQ_LEN, N_FEATURES, rng), y)


def bench(name: str, device: str, steps: int, threads: int, repeat: int) -> tuple[float, float]:
    """(training samples/s, inference samples/s) of model ``name`` on ``device``, best of ``repeat``."""
    cls = get_model_class(name.removesuffix("[4D]"))
    seq_len = 64 if name.endswith("[4D]") else SEQ_LEN
    params = {"seq_len": seq_len, "batch_size": BATCH, "epochs": 1, "val_fraction": 0.0}
    params |= {"device": device, "progress": False}
    rng = np.random.default_rng(0)
    n = steps * BATCH
    data = _dataset(name, n, rng)
    cls(params, seed=0, n_jobs=threads).fit(data.subset(np.arange(2 * BATCH)))  # warm-up
    fit_s, predict_s = [], []
    for _ in range(repeat):
        model = cls(params, seed=0, n_jobs=threads)
        fit_s.append(_timed(lambda m=model: m.fit(data), device))
        predict_s.append(_timed(lambda m=model: m.predict_proba(data.x), device))
    return n / min(fit_s), n / min(predict_s)


def _timed(fn: Callable[[], object], device: str) -> float:
    _sync(device)
    t0 = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - t0


def fit_on_large_matrix(name: str, n_rows: int, steps: int, threads: int) -> int:
    """Fit ``name`` on ``steps`` batches of windows spread over an ``(n_rows, 100)`` matrix; return n windows."""
    rng = np.random.default_rng(0)
    values = rng.standard_normal(size=(n_rows, N_FEATURES), dtype=np.float32)
    ends = np.linspace(SEQ_LEN - 1, n_rows - 1, steps * BATCH).astype(np.int64)
    view = WindowView(values, ends, SEQ_LEN, ends * MIN, tuple(f"f{i}" for i in range(N_FEATURES)))
    y = rng.integers(-1, 2, size=len(ends)).astype(np.int8)
    params = {"seq_len": SEQ_LEN, "batch_size": BATCH, "epochs": 1, "val_fraction": 0.0}
    get_model_class(name)(params | {"device": "cpu", "progress": False}, n_jobs=threads).fit(Dataset(view, y))
    return len(ends)


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    names = [n for n, c in all_models().items() if c.input_kind != InputKind.TABULAR]
    parser.add_argument("--models", default=",".join([*names, "patchtst[4D]"]), help="comma-separated names")
    parser.add_argument("--steps", type=int, default=5, help="training batches of 256 per model")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per model; the best is reported")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch CPU threads")
    parser.add_argument("--memory-rows", type=int, default=0, help="also report peak RSS on this many rows")
    args = parser.parse_args()
    devices = ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]
    print(
        f"seq_len {SEQ_LEN}, {N_FEATURES} features, batch {BATCH}, {args.steps} training batches, "
        f"best of {args.repeat}, {args.threads} CPU threads, torch {torch.__version__}"
        + (f", GPU {torch.cuda.get_device_name()}" if "cuda" in devices else ", no CUDA GPU")
    )
    header = f"{'model':<14} {'device':<6} {'params':>10} {'train samples/s':>16} {'infer samples/s':>16}"
    print(header)
    print("-" * len(header))
    for name in args.models.split(","):
        for device in devices:
            train_rate, infer_rate = bench(name, device, args.steps, args.threads, args.repeat)
            n_params = _n_params(name)
            print(
                f"{name:<14} {device:<6} {n_params:>10,} {train_rate:>16,.0f} {infer_rate:>16,.0f}",
                flush=True,
            )
    if args.memory_rows:
        from _measure import measure

        mib = args.memory_rows * N_FEATURES * 4 / 2**20
        print(
            f"\npeak RSS, fresh process, fit on a {args.memory_rows:,} x {N_FEATURES} float32 matrix ({mib:,.0f} MiB):"
        )
        for name in args.models.split(","):
            if name.endswith("[4D]"):
                continue
            seconds, peak, n = measure(fit_on_large_matrix, name, args.memory_rows, args.steps, args.threads)
            print(f"{name:<14} {peak:>8,.0f} MiB  ({n:,} windows, {seconds:.1f} s)", flush=True)


def _n_params(name: str) -> int:
    cls = get_model_class(name.removesuffix("[4D]"))
    four_d = name.endswith("[4D]")
    model = cls({"seq_len": 64 if four_d else SEQ_LEN})
    module = model.build_module(5 if four_d else N_FEATURES, 3 if four_d else 1)
    return sum(p.numel() for p in module.parameters())


if __name__ == "__main__":
    main()
