"""Executors for (model, fold) jobs and caching of stages."""

from mlfactory.runtime.executor import Executor, InProcessExecutor, LocalProcessExecutor, make_executor

__all__ = ["Executor", "InProcessExecutor", "LocalProcessExecutor", "make_executor"]
