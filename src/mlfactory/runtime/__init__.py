"""Where jobs run (inprocess, processes, Ray) and the content-addressed store of finished jobs."""

from mlfactory.runtime.executor import Executor, InProcessExecutor, LocalProcessExecutor, make_executor
from mlfactory.runtime.jobs import JobStore, job_key
from mlfactory.runtime.resources import JobResources, job_resources

__all__ = [
    "Executor",
    "InProcessExecutor",
    "JobResources",
    "JobStore",
    "LocalProcessExecutor",
    "job_key",
    "job_resources",
    "make_executor",
]
