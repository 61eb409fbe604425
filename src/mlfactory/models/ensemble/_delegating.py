"""Ensembles that delegate to a meta-learner chosen by name (``stacking``, ``blending``).

The inner model is any registered META model or ``logistic``, built with ``meta_params`` (validated
against its own schema when the ensemble is constructed). ``fit`` chooses the rows the inner model
learns from (``_fit_rows``); the inner model is saved in ``meta_learner/`` with its own manifest,
and the ensemble's manifest also covers every inner file, so tampering anywhere fails ``load``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field, field_validator

from mlfactory.adapters.views import ModelInput
from mlfactory.artifacts import MANIFEST, atomic_directory, write_file_manifest
from mlfactory.errors import ArtifactError, DataError
from mlfactory.models.base import (
    META_FILE,
    PARAMS_FILE,
    Dataset,
    Family,
    InputKind,
    Model,
    ModelParams,
    make_params,
    restore_model,
)
from mlfactory.models.ensemble._base import check_same_columns, check_stacked_input, check_time_order

INNER_DIR = "meta_learner"
META_LEARNER_CHOICES = ("logistic", "ridge_meta", "mlp_meta", "calibrated_meta", "xgboost_meta")


def meta_learner_names() -> list[str]:
    """Names a delegating ensemble accepts: every registered META model, plus ``logistic``."""
    from mlfactory.models.registry import all_models

    return sorted({n for n, c in all_models().items() if c.family == Family.META} | {"logistic"})


class DelegatingParams(ModelParams):
    meta_learner: str = Field("logistic", description="registered META model or 'logistic'")
    meta_params: dict[str, Any] = Field(
        default_factory=dict, description="hyper-parameters of the meta-learner"
    )

    @field_validator("meta_learner")
    @classmethod
    def _known(cls, value: str) -> str:
        names = meta_learner_names()
        if value not in names:
            raise ValueError(f"unknown meta-learner {value!r}; choose one of {', '.join(names)}")
        return value


class DelegatingEnsemble(Model):
    family: ClassVar[Family] = Family.ENSEMBLE
    input_kind: ClassVar[InputKind] = InputKind.TABULAR
    Params: ClassVar[type[ModelParams]] = DelegatingParams

    params: DelegatingParams
    meta_: Model
    feature_names_: tuple[str, ...]

    def __init__(self, params: dict[str, Any] | ModelParams | None = None, *, seed: int = 0, n_jobs: int = 1):
        super().__init__(params, seed=seed, n_jobs=n_jobs)
        self.inner_params_ = make_params(self.inner_cls, self.params.meta_params, f"{self.name}.meta_params")

    @property
    def inner_cls(self) -> type[Model]:
        from mlfactory.models.registry import get_model_class

        return get_model_class(self.params.meta_learner)

    def _fit_rows(self, train: Dataset) -> np.ndarray:
        """Rows of ``train`` (in time order) the meta-learner is fitted on."""
        raise NotImplementedError

    def check_input(self, x: ModelInput) -> None:
        check_stacked_input(self, x)

    def fit(self, train: Dataset, val: Dataset | None = None) -> DelegatingEnsemble:
        self.check_input(train.x)
        if val is not None:
            self.check_input(val.x)
        check_time_order(train, self.name, "train")
        rows = self._fit_rows(train)
        self.meta_ = self.inner_cls(self.inner_params_, seed=self.seed, n_jobs=self.n_jobs).fit(
            train.subset(rows), val
        )
        self.feature_names_ = tuple(train.x.feature_names)
        self.fit_span_ = (int(train.timestamps[rows[0]]), int(train.timestamps[rows[-1]]))
        return self

    def predict_proba(self, x: ModelInput) -> np.ndarray:
        if not hasattr(self, "meta_"):
            raise DataError(f"model {self.name!r} is not fitted; call fit() or load() first")
        self.check_input(x)
        check_same_columns(self, self.feature_names_, x, "predict")
        return self.meta_.predict_proba(x)

    def save(self, directory: Path, *, generation: str | None = None) -> None:
        if not hasattr(self, "meta_"):
            raise DataError(f"model {self.name!r} is not fitted; nothing to save")
        with atomic_directory(Path(directory)) as tmp:
            self._save_files(tmp, generation)

    def _save_files(self, directory: Path, generation: str | None) -> None:
        self.meta_.save(directory / INNER_DIR, generation=generation)
        (directory / PARAMS_FILE).write_text(json.dumps(self.get_params(), indent=2, sort_keys=True))
        meta = {
            "model": self.name,
            "seed": self.seed,
            "n_jobs": self.n_jobs,
            "feature_names": list(self.feature_names_),
            "meta_learner": self.meta_.name,
            "fit_span": list(self.fit_span_),
        }
        (directory / META_FILE).write_text(json.dumps(meta, indent=2))
        write_file_manifest(
            directory, [PARAMS_FILE, META_FILE, f"{INNER_DIR}/{MANIFEST}"], generation=generation
        )

    @classmethod
    def load(cls, directory: Path) -> DelegatingEnsemble:
        from mlfactory.models.registry import get_model_class

        directory = Path(directory)
        model, meta = restore_model(cls, directory)
        if meta["meta_learner"] != model.params.meta_learner:
            raise ArtifactError(f"{directory}: meta.json and params.json name different meta-learners")
        model.meta_ = get_model_class(meta["meta_learner"]).load(directory / INNER_DIR)
        model.feature_names_ = tuple(meta["feature_names"])
        model.fit_span_ = tuple(meta["fit_span"])
        return model
