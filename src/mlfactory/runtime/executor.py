"""Where (model, fold) jobs run: one tiny ``Executor`` seam, in-process or on a local process pool.

``executor.map(fn, jobs)`` returns ``[fn(job) for job in jobs]`` in job order;
``executor.map(fn, jobs, shared=obj)`` returns ``[fn(obj, job) for job in jobs]`` and ships ``obj``
(typically the dataset) to each worker once rather than once per job — the seam a Ray executor
fills with ``ray.put``. Callers never know where jobs run, and the results are identical whichever
executor runs them: jobs must be deterministic functions of their arguments (seeds inside the job).

``fn`` must be a module-level function (picklable) for the process pool, and scripts using it need
the usual ``if __name__ == "__main__":`` guard, since workers are started with ``spawn``.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Protocol, runtime_checkable

from mlfactory.errors import ConfigError

_NO_SHARED = object()


@runtime_checkable
class Executor(Protocol):
    def map(self, fn: Callable[..., Any], jobs: Sequence[Any], shared: Any = _NO_SHARED) -> list[Any]:
        """Run ``fn`` on every job; results in job order."""
        ...


def _apply(fn: Callable[..., Any], job: Any, shared: Any) -> Any:
    return fn(job) if shared is _NO_SHARED else fn(shared, job)


class InProcessExecutor:
    """Runs jobs one after another in the calling process (the default, and the reference)."""

    def map(self, fn: Callable[..., Any], jobs: Sequence[Any], shared: Any = _NO_SHARED) -> list[Any]:
        return [_apply(fn, job, shared) for job in jobs]

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> InProcessExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- worker side of the process pool: the shared object arrives once, through the initializer
_worker_shared: Any = _NO_SHARED


def _init_worker(has_shared: bool, shared: Any) -> None:
    # the sentinel does not survive pickling (a copy is a new object), hence the explicit flag
    global _worker_shared
    _worker_shared = shared if has_shared else _NO_SHARED


def _run_in_worker(fn: Callable[..., Any], job: Any) -> Any:
    return _apply(fn, job, _worker_shared)


class LocalProcessExecutor:
    """Runs jobs on a pool of ``max_workers`` spawned processes on this machine.

    The pool is started on first use and kept while ``map`` is called with the same ``shared``
    object (by identity), so N tuning trials over one dataset pay the start-up and the transfer
    once; a different ``shared`` restarts it. Use as a context manager or call ``close()``.
    """

    def __init__(self, max_workers: int) -> None:
        if int(max_workers) < 1:
            raise ConfigError(f"max_workers: {max_workers} is invalid; give a positive number of processes")
        self.max_workers = int(max_workers)
        self._pool: ProcessPoolExecutor | None = None
        self._shared_id: int | None = None
        self._shared_ref: Any = None

    def map(self, fn: Callable[..., Any], jobs: Sequence[Any], shared: Any = _NO_SHARED) -> list[Any]:
        jobs = list(jobs)
        if not jobs:
            return []
        pool = self._pool_for(shared)
        futures = [pool.submit(_run_in_worker, fn, job) for job in jobs]
        return [f.result() for f in futures]

    def _pool_for(self, shared: Any) -> ProcessPoolExecutor:
        if self._pool is None or self._shared_id != id(shared):
            self.close()
            self._pool = ProcessPoolExecutor(
                max_workers=self.max_workers,
                mp_context=mp.get_context("spawn"),
                initializer=_init_worker,
                initargs=(shared is not _NO_SHARED, None if shared is _NO_SHARED else shared),
            )
            self._shared_id = id(shared)
            self._shared_ref = shared  # keep it alive so its id cannot be reused by another object
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = None
        self._shared_id = None
        self._shared_ref = None

    def __enter__(self) -> LocalProcessExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


def make_executor(kind: str = "inprocess", max_workers: int = 1) -> InProcessExecutor | LocalProcessExecutor:
    """An executor by name: ``inprocess`` or ``processes`` (a local pool of ``max_workers``)."""
    if kind == "inprocess":
        return InProcessExecutor()
    if kind == "processes":
        return LocalProcessExecutor(max_workers)
    raise ConfigError(f"executor: unknown kind {kind!r}; use 'inprocess' or 'processes'")
