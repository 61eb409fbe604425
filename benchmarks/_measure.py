"""Wall time and peak memory of one call, measured in a fresh process so peaks don't mix."""

from __future__ import annotations

import multiprocessing as mp
import threading
import time
from collections.abc import Callable
from typing import Any

import psutil


def _child(fn: Callable[..., Any], args: tuple, q: mp.Queue) -> None:
    proc = psutil.Process()
    peak = [proc.memory_info().rss]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(0.005)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    start = time.perf_counter()
    extra = fn(*args)
    seconds = time.perf_counter() - start
    stop.set()
    t.join()
    peak[0] = max(peak[0], proc.memory_info().rss)
    q.put((seconds, peak[0] / 2**20, extra))


def measure(fn: Callable[..., Any], *args: Any) -> tuple[float, float, Any]:
    """Run ``fn(*args)`` in a spawned process; return (seconds, peak RSS MiB of that process, fn's result)."""
    ctx = mp.get_context("spawn")
    q: mp.Queue = ctx.Queue()
    p = ctx.Process(target=_child, args=(fn, args, q))
    p.start()
    result = q.get()
    p.join()
    if p.exitcode != 0:
        raise RuntimeError(f"benchmark child failed with exit code {p.exitcode}")
    return result
