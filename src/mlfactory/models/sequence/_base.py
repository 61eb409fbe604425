"""Shared base of the sequence models: the ``Model`` protocol on top of an ``nn.Module`` factory.

A subclass declares its class attributes and ``Params`` (a ``SequenceParams`` subclass with its
architecture sizes) and implements ``build_module(n_features, n_streams)``, returning a module that
maps ``(B, L, F)`` — or ``(B, S, L, F)`` for multi-stream models — to logits ``(B, 3)`` over the
classes (-1, 0, 1). Everything else lives here and in ``_trainer``:

- inputs are checked (dimensionality, ``seq_len`` equal to the ``seq_len`` parameter, features and
  streams equal to the training ones);
- feature standardisation uses statistics of the rows covered by the *training* windows only,
  stored with the model and reused at predict;
- without a ``val`` set, the last ``val_fraction`` (default 15%) of the training decisions in time
  become the early-stopping set (no purge: it affects only when training stops; callers that hold
  label end times should pass a purged ``val`` instead); ``val_fraction: 0`` trains all epochs;
- classes absent from training get probability exactly 0, as for every model.

Persistence: ``weights.safetensors`` (tensors only, no pickled modules), ``params.json``,
``meta.json`` (features, streams, scaler statistics, classes, history) and a sha256 manifest that
``load`` verifies before rebuilding the module from its parameters.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from pydantic import Field
from safetensors.torch import load_file, save_file
from torch import nn

from mlfactory.adapters.views import ModelInput, MultiStreamView, WindowView
from mlfactory.artifacts import atomic_directory, write_file_manifest
from mlfactory.errors import ArtifactError, DataError
from mlfactory.models.base import (
    CLASSES,
    META_FILE,
    PARAMS_FILE,
    Dataset,
    Family,
    InputKind,
    Model,
    ModelParams,
    check_feature_names,
    normalise_proba,
    restore_model,
)
from mlfactory.models.config import float_dim
from mlfactory.models.sequence._trainer import (
    Batches,
    FeatureScaler,
    balanced_class_factors,
    predict_softmax,
    resolve_device,
    torch_runtime,
    train_module,
)

WEIGHTS_FILE = "weights.safetensors"

COMMON_SEARCH_SPACE: dict[str, Any] = {
    "lr": float_dim(1e-4, 3e-3, log=True),
    "dropout": float_dim(0.0, 0.4),
    "weight_decay": float_dim(1e-6, 1e-2, log=True),
}


class SequenceParams(ModelParams):
    """Hyper-parameters every sequence model shares; subclasses add architecture sizes."""

    seq_len: int = Field(60, ge=1, description="window length in bars (the view must match)")
    epochs: int = Field(30, ge=1)
    batch_size: int = Field(256, ge=1)
    lr: float = Field(1e-3, gt=0, description="peak learning rate of AdamW")
    weight_decay: float = Field(1e-4, ge=0)
    patience: int = Field(5, ge=1, description="epochs without validation improvement before stopping")
    dropout: float = Field(0.1, ge=0, lt=1)
    grad_clip: float = Field(1.0, ge=0, description="max gradient norm; 0 disables clipping")
    scheduler: Literal["onecycle", "cosine", "constant"] = "onecycle"
    class_weight: Literal["balanced", "none"] = "balanced"
    val_fraction: float = Field(
        0.15, ge=0, lt=0.5, description="tail of train used to early-stop when no val"
    )
    device: Literal["auto", "cpu", "cuda"] = "auto"
    amp: bool = Field(True, description="mixed precision on CUDA (ignored on CPU)")
    progress: bool = Field(True, description="epoch bar on stderr (only when stderr is a terminal)")


class SequenceModel(Model):
    """Base of the 3D/4D models; subclasses provide ``build_module``."""

    input_kind = InputKind.SEQUENCE
    family: ClassVar[Family] = Family.NEURAL
    accepted_ndims: ClassVar[tuple[int, ...]] = (3,)
    Params: ClassVar[type[ModelParams]] = SequenceParams
    search_space: ClassVar[dict[str, Any]] = COMMON_SEARCH_SPACE

    params: SequenceParams

    # fitted state
    module_: nn.Module
    classes_: np.ndarray
    feature_names_: tuple[str, ...]
    stream_names_: tuple[str, ...]
    scaler_: FeatureScaler
    history_: dict[str, Any]

    @abstractmethod
    def build_module(self, n_features: int, n_streams: int) -> nn.Module:
        """The untrained network for ``n_features`` channels (and ``n_streams`` streams if 4D)."""

    # ------------------------------------------------------------------------------------- protocol

    def check_input(self, x: ModelInput) -> None:
        if x.ndim not in self.accepted_ndims:
            kinds = " or ".join(f"{d}D" for d in self.accepted_ndims)
            raise DataError(f"model {self.name!r} takes {kinds} window views; got a {x.ndim}D view")
        if x.seq_len != self.params.seq_len:
            raise DataError(
                f"model {self.name!r}: the view's windows hold {x.seq_len} steps but seq_len is "
                f"{self.params.seq_len}; build the view with seq_len={self.params.seq_len} or set --param seq_len"
            )

    def fit(self, train: Dataset, val: Dataset | None = None) -> SequenceModel:
        self.check_input(train.x)
        if val is None and self.params.val_fraction > 0:
            train, val = self._carve_val(train)
        codes, w = self._targets(train, "train")
        present = np.flatnonzero(np.bincount(codes, weights=w, minlength=3) > 0)  # classes with weight
        if len(present) < 2:
            raise DataError(
                f"model {self.name!r}: training labels hold only class {[CLASSES[c] for c in present]}; "
                "a classifier needs at least two classes — use a longer training period"
            )
        self.feature_names_ = tuple(train.x.feature_names)
        self.stream_names_ = tuple(train.x.stream_names) if isinstance(train.x, MultiStreamView) else ()
        self.classes_ = np.asarray([CLASSES[c] for c in present], dtype=np.int64)
        factors = self._class_factors(codes, w)
        w_fit = w * factors[codes]
        self.scaler_ = FeatureScaler.fit(train.x)
        train_b = Batches(train.x, self.scaler_, codes, (w_fit / w_fit.mean()).astype(np.float32))
        val_b = None
        if val is not None:
            self._check_same_inputs(val.x, "val")
            vcodes, vw = self._targets(val, "val")
            vw = vw * factors[vcodes]
            if vw.sum() <= 0:
                raise DataError(
                    f"model {self.name!r}: the validation rows carry zero weight (classes unseen in train)"
                )
            val_b = Batches(val.x, self.scaler_, vcodes, vw.astype(np.float32))
        device = resolve_device(self.params.device)
        n_streams = len(train.x.streams) if isinstance(train.x, MultiStreamView) else 1
        with torch_runtime(self.n_jobs, self.seed, device):
            module = self.build_module(train.x.n_features, n_streams)
            self.history_ = train_module(module, train_b, val_b, self.params, device, self.seed, self.name)
        self.module_ = module
        return self

    def predict_proba(self, x: ModelInput) -> np.ndarray:
        self._check_fitted()
        self._check_same_inputs(x, "predict")
        if len(x) == 0:
            return np.zeros((0, len(CLASSES)))
        device = resolve_device(self.params.device)
        with torch_runtime(self.n_jobs):
            p = predict_softmax(
                self.module_, self._batches(x), device, self.params.batch_size * 2, self.params.amp
            )
        seen = np.searchsorted(CLASSES, self.classes_)
        return normalise_proba(p[:, seen], self.classes_)

    def save(self, directory: Path, *, generation: str | None = None) -> None:
        self._check_fitted()
        with atomic_directory(Path(directory)) as tmp:
            self._save_files(tmp, generation)

    def _save_files(self, directory: Path, generation: str | None) -> None:
        state = {k: v.detach().cpu().contiguous() for k, v in self.module_.state_dict().items()}
        save_file(state, str(directory / WEIGHTS_FILE))
        (directory / PARAMS_FILE).write_text(json.dumps(self.get_params(), indent=2, sort_keys=True))
        meta = {
            "model": self.name,
            "seed": self.seed,
            "n_jobs": self.n_jobs,
            "classes": self.classes_.tolist(),
            "feature_names": list(self.feature_names_),
            "stream_names": list(self.stream_names_),
            "n_features": len(self.feature_names_),
            "n_streams": self._n_streams,
            "scaler_mean": self.scaler_.mean.tolist(),
            "scaler_std": self.scaler_.std.tolist(),
            "history": self.history_,
        }
        (directory / META_FILE).write_text(json.dumps(meta, indent=2))
        write_file_manifest(directory, [WEIGHTS_FILE, PARAMS_FILE, META_FILE], generation=generation)

    @classmethod
    def load(cls, directory: Path) -> SequenceModel:
        directory = Path(directory)
        model, meta = restore_model(cls, directory)
        model.classes_ = np.asarray(meta["classes"], dtype=np.int64)
        model.feature_names_ = tuple(meta["feature_names"])
        model.stream_names_ = tuple(meta["stream_names"])
        model.scaler_ = FeatureScaler(
            np.asarray(meta["scaler_mean"], dtype=np.float32),
            np.asarray(meta["scaler_std"], dtype=np.float32),
        )
        model.history_ = meta["history"]
        with torch_runtime(model.n_jobs, model.seed):  # module init draws from a forked RNG
            module = model.build_module(meta["n_features"], meta["n_streams"])
        try:
            module.load_state_dict(load_file(str(directory / WEIGHTS_FILE)), strict=True)
        except RuntimeError as exc:
            raise ArtifactError(
                f"{directory / WEIGHTS_FILE}: weights do not fit the network ({exc})"
            ) from exc
        model.module_ = module.eval()
        return model

    # ------------------------------------------------------------------------------------- helpers

    @property
    def _n_streams(self) -> int:
        return max(1, len(self.stream_names_))

    def map_batches(self, x: ModelInput, fn: Callable[[nn.Module, torch.Tensor], torch.Tensor]) -> np.ndarray:
        """Concatenate ``fn(module, batch)`` over ``x`` in eval mode (e.g. to export attention weights)."""
        self._check_fitted()
        self._check_same_inputs(x, "predict")
        device = resolve_device(self.params.device)
        module = self.module_.to(device).eval()
        data = self._batches(x)
        chunks = []
        with torch_runtime(self.n_jobs), torch.inference_mode():
            for start in range(0, len(x), self.params.batch_size):
                idx = np.arange(start, min(start + self.params.batch_size, len(x)))
                chunks.append(fn(module, data.inputs(idx, device)).float().cpu().numpy())
        return np.concatenate(chunks) if chunks else np.zeros((0,))

    def _batches(self, x: ModelInput) -> Batches:
        assert isinstance(x, WindowView | MultiStreamView)
        return Batches(x, self.scaler_)

    def _check_fitted(self) -> None:
        if not hasattr(self, "module_"):
            raise DataError(f"model {self.name!r} is not fitted; call fit() or load() first")

    def _check_same_inputs(self, x: ModelInput, role: str) -> None:
        self.check_input(x)
        names = tuple(x.stream_names) if isinstance(x, MultiStreamView) else ()
        if names != self.stream_names_:
            raise DataError(
                f"model {self.name!r}: {role} streams {list(names)} differ from the training streams "
                f"{list(self.stream_names_)}"
            )
        check_feature_names(self, self.feature_names_, x, role)

    def _targets(self, data: Dataset, role: str) -> tuple[np.ndarray, np.ndarray]:
        codes = (np.asarray(data.y).astype(np.int64) + 1).astype(np.int64)
        if len(codes) == 0:
            raise DataError(f"model {self.name!r}: the {role} set is empty")
        if data.sample_weight is None:
            return codes, np.ones(len(codes))
        w = np.asarray(data.sample_weight, dtype=np.float64)
        if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            raise DataError(f"model {self.name!r}: {role} sample weights must be finite, >= 0 and not all 0")
        return codes, w

    def _class_factors(self, codes: np.ndarray, w: np.ndarray) -> np.ndarray:
        if self.params.class_weight == "balanced":
            return balanced_class_factors(codes, w)
        return np.ones(3)

    def _carve_val(self, train: Dataset) -> tuple[Dataset, Dataset]:
        n = len(train)
        n_val = round(n * self.params.val_fraction)
        if n_val < 1 or n - n_val < 2:
            raise DataError(
                f"model {self.name!r}: {n} training windows are too few to carve a validation tail of "
                f"{self.params.val_fraction:.0%}; pass a val set, add data or set val_fraction: 0"
            )
        order = np.argsort(train.timestamps, kind="stable")
        return train.subset(order[:-n_val]), train.subset(order[-n_val:])
