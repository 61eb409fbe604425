"""The Ray executor: each job is a Ray task; the shared object goes into the object store once.

``RayExecutor(workers)`` starts a local Ray instance with ``workers`` CPUs and stops it on
``close``; ``RayExecutor(workers, address="auto" | "ray://head:10001" | "head:6379")`` joins an
existing cluster (and only disconnects on ``close``). Jobs carrying ``resources``
(:class:`~mlfactory.runtime.resources.JobResources`) are submitted with those task options:
``memory`` bounds how many run side by side on a node, neural jobs on a CUDA machine get a GPU
fraction and a one-shot worker. Every node must be able to import ``mlfactory`` (same environment) and, for jobs
that write their own results, reach the run directory (a shared filesystem on a real cluster).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from mlfactory.errors import ConfigError
from mlfactory.runtime.executor import NO_SHARED, apply_job, ordered
from mlfactory.runtime.resources import JobResources


def _run_task(fn: Callable[..., Any], job: Any, has_shared: bool, shared: Any) -> Any:
    return apply_job(fn, job, shared if has_shared else NO_SHARED)


class RayExecutor:
    """Runs jobs as Ray tasks on a local instance or an existing cluster."""

    def __init__(self, workers: int = 1, address: str | None = None) -> None:
        if isinstance(workers, bool) or int(workers) < 1:
            raise ConfigError(f"--workers {workers}: give a positive number of CPUs for Ray")
        if address is not None and not str(address).strip():
            raise ConfigError("--ray-address: empty; give 'auto', 'ray://HOST:10001' or HOST:6379")
        import ray

        self.workers = int(workers)
        self.address = address
        self._owns = False
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if address is None:
                kwargs["num_cpus"] = self.workers
                kwargs["runtime_env"] = {"env_vars": _python_path_env()}
            try:
                ray.init(address=address, **kwargs)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise ConfigError(
                    f"--ray-address {address!r}: cannot connect to a Ray cluster ({exc}); start one with "
                    "`ray start --head` or drop --ray-address to run a local instance"
                ) from exc
            self._owns = True
        self._task = ray.remote(_run_task)
        self._one_shot_task = ray.remote(max_calls=1)(_run_task)  # a fresh worker per call
        self._shared_id: int | None = None
        self._shared_ref: Any = None
        self._shared_obj: Any = None

    @property
    def cluster_cpus(self) -> int:
        import ray

        return int(ray.cluster_resources().get("CPU", self.workers))

    def _put(self, shared: Any) -> Any:
        import ray

        if shared is NO_SHARED:
            return None
        if self._shared_id != id(shared):
            self._shared_ref = ray.put(shared)  # once per shared object, whatever the number of jobs
            self._shared_id = id(shared)
            self._shared_obj = shared  # keep it alive so its id cannot be reused
        return self._shared_ref

    def map(self, fn: Callable[..., Any], jobs: Sequence[Any], shared: Any = NO_SHARED) -> list[Any]:
        jobs = list(jobs)
        return ordered(self.as_completed(fn, jobs, shared), len(jobs))

    def as_completed(
        self, fn: Callable[..., Any], jobs: Sequence[Any], shared: Any = NO_SHARED
    ) -> Iterator[tuple[int, Any]]:
        import ray

        jobs = list(jobs)
        if not jobs:
            return
        ref = self._put(shared)
        has = shared is not NO_SHARED
        index = {}
        for i, job in enumerate(jobs):
            res = getattr(job, "resources", None)
            if not isinstance(res, JobResources):
                res = JobResources()
            task = self._one_shot_task if res.one_shot else self._task
            index[task.options(**res.ray_options()).remote(fn, job, has, ref)] = i
        pending = list(index)
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                for r in done:
                    yield index[r], ray.get(r)
        finally:
            for r in pending:
                ray.cancel(r)

    def close(self) -> None:
        import ray

        self._shared_ref = self._shared_obj = self._shared_id = None
        if self._owns and ray.is_initialized():
            ray.shutdown()
        self._owns = False

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _python_path_env() -> dict[str, str]:
    """Workers of a local instance import mlfactory from where this process does."""
    import mlfactory

    src = os.path.dirname(os.path.dirname(os.path.abspath(mlfactory.__file__)))
    paths = [src, *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]]
    return {"PYTHONPATH": os.pathsep.join(dict.fromkeys(paths))}
