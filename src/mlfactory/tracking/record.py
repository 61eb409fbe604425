"""What one MLflow run holds, as plain data: tags, params, metrics, per-step series, artifacts, children.

Records are built from the files a command wrote (``records_from_outputs``) and written by
``recorder.write_record``; building them needs no MLflow, so their content is tested directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlfactory.tracking.flatten import FlatMetrics, flatten_metrics, safe_key

NON_FINITE_TAG = "non_finite_metrics"


@dataclass
class Artifact:
    source: Path
    name: str  # file name in the MLflow run
    folder: str | None = None  # artifact sub-directory

    @classmethod
    def of(cls, source: Path, name: str | None = None, folder: str | None = None) -> Artifact:
        return cls(Path(source), name or Path(source).name, folder)


@dataclass
class RunRecord:
    name: str
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    series: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # key → [(step, value)]
    artifacts: list[Artifact] = field(default_factory=list)
    children: list[RunRecord] = field(default_factory=list)

    def add_metrics(self, flat: FlatMetrics) -> None:
        """Add finite metrics; name the dropped non-finite ones in a tag."""
        self.metrics.update(flat.metrics)
        if flat.dropped:
            previous = self.tags.get(NON_FINITE_TAG)
            note = flat.dropped_note()
            self.tags[NON_FINITE_TAG] = f"{previous}; {note}" if previous else note

    def add_nested(self, node: Any, prefix: str = "") -> None:
        self.add_metrics(flatten_metrics(node, prefix))

    def add_params(self, params: dict[str, Any]) -> None:
        for k, v in params.items():
            if v is not None:
                self.params[safe_key(k)] = str(v)

    def add_tags(self, tags: dict[str, Any]) -> None:
        for k, v in tags.items():
            if v is not None and v != "":
                self.tags[safe_key(k)] = str(v)

    def add_artifacts(self, *paths: Path, folder: str | None = None) -> None:
        """The files among ``paths`` that exist (absent optional files are normal)."""
        self.artifacts.extend(Artifact.of(p, folder=folder) for p in paths if Path(p).is_file())

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()
