"""``pipeline run``: canonical bars → ladder → features → labels → splits, each stage cached."""

from mlfactory.pipeline.run import PipelineResult, load_and_validate, run_pipeline

__all__ = ["PipelineResult", "load_and_validate", "run_pipeline"]
