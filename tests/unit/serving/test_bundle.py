"""``ensemble.json``: the data conventions block is written and read back; older formats are refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlfactory.config import PipelineConfig
from mlfactory.data.instruments import get_instrument
from mlfactory.errors import ArtifactError
from mlfactory.serving.bundle import (
    BUNDLE_FILE,
    BUNDLE_FORMAT,
    BaseEntry,
    BundleSpec,
    CombinerEntry,
    DataConventions,
    GuardRecord,
    read_bundle_spec,
    run_conventions,
    write_bundle_spec,
)

CONVENTIONS = DataConventions(symbol="MES", format="sierra", stamp="open", timezone="America/New_York")


def _spec() -> BundleSpec:
    return BundleSpec(
        ensemble_id="e_h10",
        horizon=10,
        decision_timeframe="5m",
        bases={"svm": BaseEntry(model="svm", directory="bases/svm/model", routing="bases/svm/routing.json")},
        meta_learner="logistic",
        combiner=CombinerEntry(candidate="meta", model="logistic", directory="combiner"),
        guard=GuardRecord(metric="log_loss", scores={"meta": 1.0}, kept="meta", forced=False),
        stack_columns=["svm__p_short", "svm__p_neutral", "svm__p_long"],
        priors=[0.3, 0.4, 0.3],
        coverage_policy="drop",
        fallback={"rule": "available", "oof_log_loss": {"svm": 1.05}, "weights": {"svm": 1.0}},
        meta_features=False,
        pipeline_config=PipelineConfig().model_dump(mode="json"),
        instrument=get_instrument("MES").model_dump(),
        conventions=CONVENTIONS,
    )


def test_the_conventions_block_is_written_and_read_back(tmp_path: Path) -> None:
    write_bundle_spec(tmp_path, _spec())
    on_disk = json.loads((tmp_path / BUNDLE_FILE).read_text())
    assert on_disk["format"] == BUNDLE_FORMAT == "mlfactory-ensemble/3"
    assert on_disk["conventions"] == {
        "symbol": "MES",
        "format": "sierra",
        "stamp": "open",
        "timezone": "America/New_York",
    }
    assert read_bundle_spec(tmp_path).conventions == CONVENTIONS


@pytest.mark.parametrize("old", ["mlfactory-ensemble/1", "mlfactory-ensemble/2"])
def test_a_bundle_of_an_older_format_is_refused_with_the_retrain_command(tmp_path: Path, old: str) -> None:
    obj = _spec().model_dump(mode="json")
    obj["format"] = old
    del obj["conventions"]  # what a /2 bundle looked like
    (tmp_path / BUNDLE_FILE).write_text(json.dumps(obj))
    with pytest.raises(ArtifactError, match=r"is not 'mlfactory-ensemble/3'.*retrain the ensemble with `mlfactory train-ensemble`"):  # fmt: skip
        read_bundle_spec(tmp_path)
    if old.endswith("/2"):
        with pytest.raises(ArtifactError, match="does not record the data conventions"):
            read_bundle_spec(tmp_path)


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda c: c.pop("stamp"), "conventions.stamp"),
        (lambda c: c.update(stamp="auto"), "conventions.stamp"),  # resolved, never the config's auto/null
        (lambda c: c.update(format="auto"), "conventions.format"),
        (lambda c: c.update(extra=1), "conventions.extra"),
    ],
)
def test_a_missing_or_unresolved_convention_is_refused(tmp_path: Path, edit, field: str) -> None:
    obj = _spec().model_dump(mode="json")
    edit(obj["conventions"])
    (tmp_path / BUNDLE_FILE).write_text(json.dumps(obj))
    with pytest.raises(ArtifactError, match=rf"invalid bundle \({field}"):
        read_bundle_spec(tmp_path)


def test_a_run_without_recorded_conventions_says_to_rerun_the_pipeline(tmp_path: Path) -> None:
    assert run_conventions({"conventions": CONVENTIONS.model_dump()}, tmp_path) == CONVENTIONS
    with pytest.raises(ArtifactError, match="rerun `mlfactory pipeline run`"):
        run_conventions({"validation": {}}, tmp_path / "manifest.json")
