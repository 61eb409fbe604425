"""Executors: results in job order, identical in-process and on a process pool, shared data shipped once."""

from __future__ import annotations

import os

import numpy as np
import pytest

from mlfactory.errors import ConfigError, DataError
from mlfactory.runtime.executor import Executor, InProcessExecutor, LocalProcessExecutor, make_executor


def square(job: int) -> int:
    return job * job


def weighted_sum(shared: np.ndarray, job: int) -> float:
    return float(shared[job:].sum() * job)


def pid_of(job: int) -> int:
    return os.getpid()


def shared_pid(shared: object, job: int) -> int:
    return os.getpid()


def fail_on_three(job: int) -> int:
    if job == 3:
        raise DataError(f"job {job} refused")
    return job


@pytest.fixture(scope="module")
def pool():
    with LocalProcessExecutor(max_workers=2) as ex:
        yield ex


def test_in_process_runs_jobs_in_order():
    assert InProcessExecutor().map(square, [3, 1, 2]) == [9, 1, 4]
    data = np.arange(10.0)
    assert InProcessExecutor().map(weighted_sum, [0, 5], shared=data) == [0.0, 35.0 * 5]


def test_process_pool_matches_in_process(pool):
    jobs = list(range(12))[::-1]
    assert pool.map(square, jobs) == InProcessExecutor().map(square, jobs)
    data = np.random.default_rng(0).normal(size=50)
    assert pool.map(weighted_sum, jobs, shared=data) == InProcessExecutor().map(
        weighted_sum, jobs, shared=data
    )


def test_process_pool_runs_in_other_processes(pool):
    assert os.getpid() not in set(pool.map(pid_of, range(4)))


def test_pool_is_reused_for_the_same_shared_object_and_restarted_for_another(pool):
    a, b = np.zeros(3), np.ones(3)
    first = set(pool.map(shared_pid, range(6), shared=a))
    again = set(pool.map(shared_pid, range(6), shared=a))
    assert again <= first
    other = set(pool.map(shared_pid, range(6), shared=b))
    assert not other & first


def test_job_errors_reach_the_caller_with_their_type(pool):
    with pytest.raises(DataError, match="job 3 refused"):
        pool.map(fail_on_three, range(5))
    with pytest.raises(DataError, match="job 3 refused"):
        InProcessExecutor().map(fail_on_three, range(5))


def test_no_jobs_no_results(pool):
    assert pool.map(square, []) == []


def test_executors_satisfy_the_protocol():
    assert isinstance(InProcessExecutor(), Executor)
    ex = LocalProcessExecutor(1)
    assert isinstance(ex, Executor)
    ex.close()


def test_as_completed_yields_every_job_once_with_its_index(pool):
    jobs = [5, 2, 7, 1]
    for ex in (pool, InProcessExecutor()):
        pairs = list(ex.as_completed(square, jobs))
        assert sorted(i for i, _ in pairs) == [0, 1, 2, 3]
        assert all(r == jobs[i] ** 2 for i, r in pairs)
    data = np.arange(10.0)
    assert dict(pool.as_completed(weighted_sum, [0, 5], shared=data)) == {0: 0.0, 1: 35.0 * 5}


def test_bad_settings_are_refused():
    with pytest.raises(ConfigError, match="--workers 0"):
        LocalProcessExecutor(0)
    with pytest.raises(ConfigError, match="--executor 'dask': unknown kind"):
        make_executor("dask")
    with pytest.raises(ConfigError, match="needs --executor ray"):
        make_executor("processes", 2, ray_address="auto")
    assert isinstance(make_executor("processes", 2), LocalProcessExecutor)
    assert make_executor("processes", max_workers=3).workers == 3  # the older keyword still works
    assert isinstance(make_executor(), InProcessExecutor)
