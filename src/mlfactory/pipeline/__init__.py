"""``pipeline run``: canonical bars → ladder → features → labels → splits, each stage cached."""

from mlfactory.pipeline.run import (
    PipelineResult,
    data_conventions,
    load_and_validate,
    read_bars,
    run_pipeline,
)

__all__ = ["PipelineResult", "data_conventions", "load_and_validate", "read_bars", "run_pipeline"]
