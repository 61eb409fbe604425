"""Where jobs run: one tiny ``Executor`` seam — in-process, a local process pool, or Ray.

``executor.map(fn, jobs)`` returns ``[fn(job) for job in jobs]`` in job order;
``executor.map(fn, jobs, shared=obj)`` returns ``[fn(obj, job) for job in jobs]`` and ships ``obj``
(typically the dataset) to each worker once rather than once per job (Ray: ``ray.put`` once).
``executor.as_completed(fn, jobs, shared=obj)`` yields ``(index, result)`` as jobs finish, for
progress bars and for jobs that write their own results. Callers never know where jobs run, and
the results are identical whichever executor runs them: jobs must be deterministic functions of
their arguments (seeds inside the job).

A job may carry ``resources`` (a :class:`~mlfactory.runtime.resources.JobResources`): Ray uses it
to bound concurrency by memory and to give neural jobs a GPU fraction in one-shot workers (with
CUDA); the local executors ignore it.

``fn`` must be a module-level function (picklable) for the process pool and Ray, and scripts using
them need the usual ``if __name__ == "__main__":`` guard, since workers are started with ``spawn``.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, Protocol, runtime_checkable

from mlfactory.errors import ConfigError

NO_SHARED: Any = object()
KINDS = ("inprocess", "processes", "ray")


@runtime_checkable
class Executor(Protocol):
    workers: int

    def map(self, fn: Callable[..., Any], jobs: Sequence[Any], shared: Any = NO_SHARED) -> list[Any]:
        """Run ``fn`` on every job; results in job order."""
        ...

    def as_completed(
        self, fn: Callable[..., Any], jobs: Sequence[Any], shared: Any = NO_SHARED
    ) -> Iterator[tuple[int, Any]]:
        """Run ``fn`` on every job; yield ``(job index, result)`` as each finishes."""
        ...


def apply_job(fn: Callable[..., Any], job: Any, shared: Any) -> Any:
    return fn(job) if shared is NO_SHARED else fn(shared, job)


def ordered(pairs: Iterator[tuple[int, Any]], n: int) -> list[Any]:
    out: list[Any] = [None] * n
    for i, result in pairs:
        out[i] = result
    return out


class InProcessExecutor:
    """Runs jobs one after another in the calling process (the default, and the reference)."""

    workers = 1

    def map(self, fn: Callable[..., Any], jobs: Sequence[Any], shared: Any = NO_SHARED) -> list[Any]:
        return [apply_job(fn, job, shared) for job in jobs]

    def as_completed(
        self, fn: Callable[..., Any], jobs: Sequence[Any], shared: Any = NO_SHARED
    ) -> Iterator[tuple[int, Any]]:
        for i, job in enumerate(jobs):
            yield i, apply_job(fn, job, shared)

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> InProcessExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- worker side of the process pool: the shared object arrives once, through the initializer
_worker_shared: Any = NO_SHARED


def _init_worker(has_shared: bool, shared: Any) -> None:
    # the sentinel does not survive pickling (a copy is a new object), hence the explicit flag
    global _worker_shared
    _worker_shared = shared if has_shared else NO_SHARED


def _run_in_worker(fn: Callable[..., Any], job: Any) -> Any:
    return apply_job(fn, job, _worker_shared)


class LocalProcessExecutor:
    """Runs jobs on a pool of ``workers`` spawned processes on this machine.

    The pool is started on first use and kept while ``map`` is called with the same ``shared``
    object (by identity), so N tuning trials over one dataset pay the start-up and the transfer
    once; a different ``shared`` restarts it. Use as a context manager or call ``close()``.
    """

    def __init__(self, workers: int | None = None, *, max_workers: int | None = None) -> None:
        workers = max_workers if workers is None else workers  # max_workers: the older name
        if workers is None or isinstance(workers, bool) or int(workers) < 1:
            raise ConfigError(f"--workers {workers}: give a positive number of worker processes")
        self.workers = int(workers)
        self._pool: ProcessPoolExecutor | None = None
        self._shared_id: int | None = None
        self._shared_ref: Any = None

    @property
    def max_workers(self) -> int:
        return self.workers

    def map(self, fn: Callable[..., Any], jobs: Sequence[Any], shared: Any = NO_SHARED) -> list[Any]:
        jobs = list(jobs)
        return ordered(self.as_completed(fn, jobs, shared), len(jobs))

    def as_completed(
        self, fn: Callable[..., Any], jobs: Sequence[Any], shared: Any = NO_SHARED
    ) -> Iterator[tuple[int, Any]]:
        jobs = list(jobs)
        if not jobs:
            return
        pool = self._pool_for(shared)
        index = {pool.submit(_run_in_worker, fn, job): i for i, job in enumerate(jobs)}
        pending = set(index)
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in sorted(done, key=index.__getitem__):
                    yield index[f], f.result()
        finally:
            for f in pending:
                f.cancel()

    def _pool_for(self, shared: Any) -> ProcessPoolExecutor:
        if self._pool is None or self._shared_id != id(shared):
            self.close()
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=mp.get_context("spawn"),
                initializer=_init_worker,
                initargs=(shared is not NO_SHARED, None if shared is NO_SHARED else shared),
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


def make_executor(
    kind: str = "inprocess",
    workers: int = 1,
    *,
    ray_address: str | None = None,
    max_workers: int | None = None,
) -> Executor:
    """An executor by name: ``inprocess``, ``processes`` (a local pool of ``workers``) or ``ray``.

    ``ray`` without ``ray_address`` starts (and on ``close`` stops) a local Ray instance with
    ``workers`` CPUs; with ``"auto"``, ``"ray://host:port"`` or a GCS ``host:port`` it joins that
    cluster and leaves it running. ``max_workers`` is the older name of ``workers``.
    """
    n = int(workers if max_workers is None else max_workers)
    if ray_address is not None and kind != "ray":
        raise ConfigError(f"--ray-address {ray_address!r} needs --executor ray (got --executor {kind})")
    if kind == "inprocess":
        return InProcessExecutor()
    if kind == "processes":
        return LocalProcessExecutor(n)
    if kind == "ray":
        from mlfactory.runtime.ray_executor import RayExecutor

        return RayExecutor(n, address=ray_address)
    raise ConfigError(f"--executor {kind!r}: unknown kind; use one of {', '.join(KINDS)}")
