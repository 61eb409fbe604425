"""Identical OOF whichever executor runs the grid — in-process, a process pool, a real 2-node Ray cluster.

One module-scoped ``ray.cluster_utils.Cluster`` (two nodes of one CPU each, started on this
machine); the jobs record the node they ran on, and both nodes must appear.
"""

from __future__ import annotations

import shutil
import sys
import time

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from run_copies import copy_dataset

from mlfactory.errors import DataError
from mlfactory.evaluation.trials import TRIALS_FILE, read_trials
from mlfactory.runtime.ray_executor import RayExecutor
from mlfactory.runtime.resources import current_node
from mlfactory.training.grid import run_grid

MODELS = ["random_forest", "tcn"]
PARAMS = ["random_forest.n_estimators=10", "tcn.epochs=1", "tcn.seq_len=8", "tcn.progress=false"]


@pytest.fixture(scope="module")
def cluster():
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    c.add_node(num_cpus=1)
    c.wait_for_nodes()
    # the test's own job functions travel by value (workers cannot import this test module)
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield c
    if ray.is_initialized():
        ray.shutdown()
    c.shutdown()


def node_after_nap(job: float) -> str:
    time.sleep(job)
    return current_node()


def refuse_two(shared: dict, job: int) -> int:
    if job == 2:
        raise DataError("job 2 refused")
    return shared["base"] + job


def test_ray_executor_spreads_jobs_over_both_nodes_and_keeps_order(cluster):
    with RayExecutor(2, address=cluster.address) as ex:
        assert ex.cluster_cpus == 2
        nodes = ex.map(node_after_nap, [0.5] * 4)
        assert len(set(nodes)) == 2, nodes
        assert ex.map(refuse_two, [0, 1, 3], shared={"base": 10}) == [10, 11, 13]
        with pytest.raises(DataError, match="job 2 refused"):
            ex.map(refuse_two, [0, 1, 2], shared={"base": 10})


def grid_oof(run, **executor) -> tuple[dict[str, pl.DataFrame], dict]:
    summary = run_grid(run, MODELS, [10], n_splits=3, params=PARAMS, **executor)
    frames = {name: pl.read_parquet(m["directory"] + "/oof.parquet") for name, m in summary["models"].items()}
    return frames, summary


@pytest.mark.slow
def test_oof_is_identical_inprocess_processes_and_ray_cluster(small_run, tmp_path, cluster):
    runs = {k: shutil.copytree(small_run, tmp_path / k) for k in ("inprocess", "processes", "ray")}
    ref, ref_summary = grid_oof(runs["inprocess"], executor="inprocess")
    assert all(f.height > 500 for f in ref.values())  # both models predict most test rows
    pool, pool_summary = grid_oof(runs["processes"], executor="processes", workers=2)
    on_ray, ray_summary = grid_oof(runs["ray"], executor="ray", workers=2, ray_address=cluster.address)
    for name, frame in ref.items():
        assert_frame_equal(pool[name], frame, check_exact=True)
        assert_frame_equal(on_ray[name], frame, check_exact=True)
    assert ray_summary["jobs"]["computed"] == ref_summary["jobs"]["total"] == 6
    assert len(ray_summary["jobs"]["nodes"]) == 2, ray_summary["jobs"]["nodes"]  # jobs ran on both nodes
    assert pool_summary["jobs"]["nodes"] == ref_summary["jobs"]["nodes"] == [current_node()]


def test_tuning_trials_on_ray_workers_are_recorded_once_from_the_driver(small_run, tmp_path, cluster):
    """`grid --tune` on the Ray cluster: each trial runs in a worker, its OOF comes back and the driver
    records it; the registry equals the in-process one."""
    runs = {k: copy_dataset(small_run, tmp_path / k) for k in ("inprocess", "ray")}
    tune = {"n_splits": 3, "params": ["n_estimators=10"], "tune": 3, "tune_batch": 2}
    run_grid(runs["inprocess"], ["random_forest"], [10], **tune)
    run_grid(
        runs["ray"], ["random_forest"], [10], executor="ray", workers=2, ray_address=cluster.address, **tune
    )
    ref, on_ray = read_trials(runs["inprocess"]), read_trials(runs["ray"])
    assert sorted(on_ray) == [f"models/random_forest_h10/trial-{k}" for k in range(3)]
    assert on_ray == ref
    assert len((runs["ray"] / TRIALS_FILE).read_text().splitlines()) == 3
