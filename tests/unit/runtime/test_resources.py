"""Job resources: memory grows with the dataset, neural jobs get a GPU fraction and one-shot workers with CUDA; peak memory is measured."""

from __future__ import annotations

import numpy as np

from mlfactory.runtime.resources import BASE_MEMORY, NEURAL_MEMORY, PeakMemory, current_node, job_resources


def test_memory_estimate_grows_with_the_dataset():
    small, big = job_resources("boosting", 10_000), job_resources("boosting", 10_000_000)
    assert small.memory >= BASE_MEMORY and big.memory - small.memory >= 2 * (10_000_000 - 10_000)
    assert small.ray_options() == {"num_cpus": 1.0, "memory": small.memory}


def test_neural_jobs_take_a_gpu_fraction_and_a_one_shot_worker_only_with_cuda():
    cpu = job_resources("transformer", 1_000, gpu=False)
    assert not cpu.one_shot and cpu.num_gpus == 0 and cpu.memory >= NEURAL_MEMORY
    assert "num_gpus" not in cpu.ray_options()
    gpu = job_resources("cnn", 1_000, gpu=True)
    assert 0 < gpu.ray_options()["num_gpus"] < 1 and gpu.one_shot
    assert not job_resources("classical", 1_000, gpu=True).one_shot
    assert job_resources("classical", 1_000, gpu=True).num_gpus == 0


def test_peak_memory_sees_an_allocation_inside_the_block():
    with PeakMemory(interval=0.005) as mem:
        block = np.ones(64 * 2**20 // 8)  # 64 MiB, touched
        block.sum()
        del block
    assert mem.peak_rss - mem.start_rss >= 32 * 2**20
    assert mem.seconds > 0


def test_node_outside_ray_is_the_host():
    assert current_node().startswith("host:")
