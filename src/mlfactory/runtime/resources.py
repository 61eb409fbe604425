"""What one job asks of a worker: CPUs, memory, a GPU fraction, a one-shot worker; and where it ran.

Ray schedules a task only where its ``memory`` fits, so many small tabular jobs run side by side
while a few large ones wait for room — concurrency bounded by memory, not all-or-nothing. Neural
jobs ask for a fraction of a GPU when CUDA is present and then run in a one-shot worker
(``max_calls=1``), so the device memory CUDA's caching allocator keeps is released when they end.
On CPU they reuse workers: a fresh worker per job re-imports torch (seconds each), which cost the
bench_scale grid a third of its wall time, and CPU tensors are freed when the job returns.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from dataclasses import dataclass
from functools import cache
from typing import Any

NEURAL_FAMILIES = frozenset({"neural", "cnn", "transformer", "mlp"})
MiB = 1 << 20
BASE_MEMORY = 512 * MiB  # a worker with its libraries and the fitted model
NEURAL_MEMORY = 1280 * MiB  # torch, batches, optimiser state (largest job in the bench_scale trial: 1.2 GiB)
DATA_FACTOR = 3  # the job's slice of the dataset, its copy for fitting, and the fitted model
GPU_FRACTION = 0.25


@dataclass(frozen=True)
class JobResources:
    """Ray task options for one job (the local executors ignore them)."""

    num_cpus: float = 1.0
    memory: int = BASE_MEMORY  # bytes
    num_gpus: float = 0.0
    one_shot: bool = False  # a fresh worker per task, so framework memory is released

    def ray_options(self) -> dict[str, Any]:
        """``.options()`` of the task; ``one_shot`` is a property of the remote function (``max_calls=1``)."""
        opts: dict[str, Any] = {"num_cpus": self.num_cpus, "memory": int(self.memory)}
        if self.num_gpus:
            opts["num_gpus"] = self.num_gpus
        return opts


@cache
def cuda_available() -> bool:
    """Whether this process sees a CUDA device (torch imported only when asked)."""
    try:
        import torch
    except ImportError:  # torch is a core dependency; a broken install simply means no GPU here
        return False
    return bool(torch.cuda.is_available())


def job_resources(family: str, dataset_bytes: int, *, gpu: bool | None = None) -> JobResources:
    """Resources of a job of model ``family`` over a dataset of ``dataset_bytes`` bytes."""
    neural = family in NEURAL_FAMILIES
    base = NEURAL_MEMORY if neural else BASE_MEMORY
    use_gpu = neural and (cuda_available() if gpu is None else gpu)
    return JobResources(
        num_cpus=1.0,
        memory=int(base + DATA_FACTOR * max(int(dataset_bytes), 0)),
        num_gpus=GPU_FRACTION if use_gpu else 0.0,
        one_shot=use_gpu,
    )


def current_node() -> str:
    """The Ray node id when running inside Ray, else ``host:<hostname>``."""
    if "ray" in sys.modules:
        import ray

        if ray.is_initialized():
            return str(ray.get_runtime_context().get_node_id())
    return f"host:{socket.gethostname()}"


class PeakMemory:
    """Peak resident memory of this process while the block runs (sampled every ``interval`` s)."""

    def __init__(self, interval: float = 0.02) -> None:
        import psutil

        self._proc = psutil.Process(os.getpid())
        self._interval = interval
        self._stop = threading.Event()
        self.start_rss = 0
        self.peak_rss = 0
        self.seconds = 0.0

    def _sample(self) -> None:
        while not self._stop.wait(self._interval):
            self.peak_rss = max(self.peak_rss, self._proc.memory_info().rss)

    def __enter__(self) -> PeakMemory:
        self.start_rss = self.peak_rss = self._proc.memory_info().rss
        self._t0 = time.perf_counter()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_rss = max(self.peak_rss, self._proc.memory_info().rss)
        self.seconds = time.perf_counter() - self._t0
