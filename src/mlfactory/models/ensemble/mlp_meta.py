"""Small MLP meta-learner (scikit-learn ``MLPClassifier``, Adam), early-stopped on a time-ordered slice.

scikit-learn's own ``early_stopping`` carves a *shuffled* validation split, so it is not used.
Instead the network is trained one epoch at a time (``partial_fit``; mini-batches shuffled with
the seed) and scored after each epoch on:

- the validation set when one is given — the weights of the best epoch are kept;
- otherwise the latest ``validation_frac`` of the stacked rows in time order: the best epoch count
  is found training on the earlier rows, then a fresh network (same seed) is trained on all rows for
  that many epochs, so the most recent rows are not lost to early stopping.

Inputs are standardised with a scaler fitted on the training rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from mlfactory.models.base import ModelParams
from mlfactory.models.config import categorical_dim, float_dim, int_dim
from mlfactory.models.ensemble._base import StackedModel, latest_slice, weighted_log_loss
from mlfactory.models.registry import register
from mlfactory.models.tabular._base import ClassWeight, ValArrays, dump_skops, limit_threads, load_skops

MODEL_FILE = "model.skops"
TRUSTED_TYPES = (
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.neural_network._multilayer_perceptron.MLPClassifier",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.preprocessing._label.LabelBinarizer",
    "numpy.random.mtrand.RandomState",
    "numpy.random._mt19937.MT19937",
)
MIN_IMPROVEMENT = 1e-5  # log-loss decrease that counts as an improvement


class MlpMetaParams(ModelParams):
    hidden_units: int = Field(16, ge=1, le=512, description="units per hidden layer")
    n_hidden_layers: int = Field(1, ge=1, le=3)
    alpha: float = Field(1e-3, ge=0, description="L2 penalty on the weights")
    learning_rate_init: float = Field(1e-3, gt=0, le=1)
    batch_size: int = Field(256, ge=1)
    max_epochs: int = Field(200, ge=1)
    patience: int = Field(10, ge=1, description="epochs without improvement before stopping")
    validation_frac: float = Field(
        0.2,
        gt=0,
        lt=1,
        description="latest share of rows that picks the epoch count when no validation set is given",
    )
    class_weight: ClassWeight = "none"


@register
class MlpMetaModel(StackedModel):
    name = "mlp_meta"
    Params = MlpMetaParams
    search_space: ClassVar[dict[str, Any]] = {
        "hidden_units": categorical_dim(8, 16, 32, 64),
        "n_hidden_layers": int_dim(1, 2),
        "alpha": float_dim(1e-5, 1e-1, log=True),
        "learning_rate_init": float_dim(1e-4, 1e-2, log=True),
    }

    params: MlpMetaParams

    def _network(self, n_rows: int) -> Any:
        from sklearn.neural_network import MLPClassifier

        p = self.params
        return MLPClassifier(
            hidden_layer_sizes=(p.hidden_units,) * p.n_hidden_layers,
            alpha=p.alpha,
            batch_size=min(p.batch_size, n_rows),
            learning_rate_init=p.learning_rate_init,
            shuffle=True,
            random_state=self.seed,
        )

    def _train(self, x: np.ndarray, y: np.ndarray, w: np.ndarray, stop: ValArrays | None, epochs: int) -> Any:
        """Train up to ``epochs``; with ``stop``, keep the best epoch's weights and record it."""
        net = self._network(len(x))
        classes = np.arange(self.n_classes_)
        best_loss, best_epoch, best_state = np.inf, 0, None
        for epoch in range(1, epochs + 1):
            net.partial_fit(x, y, sample_weight=w, classes=classes)
            if stop is None:
                continue
            loss = weighted_log_loss(net.predict_proba(stop[0]), stop[1], stop[2])
            if loss < best_loss - MIN_IMPROVEMENT:
                best_loss, best_epoch = loss, epoch
                best_state = ([c.copy() for c in net.coefs_], [b.copy() for b in net.intercepts_])
            elif epoch - best_epoch >= self.params.patience:
                break
        if stop is not None and best_state is not None:
            net.coefs_, net.intercepts_ = best_state
            self.best_epoch_ = best_epoch
        else:
            self.best_epoch_ = epochs
        return net

    def _fit_arrays(self, x: np.ndarray, y: np.ndarray, w: np.ndarray, val: ValArrays | None) -> None:
        from sklearn.preprocessing import StandardScaler

        scaler = StandardScaler().fit(x)
        xs = scaler.transform(x)
        epochs = self.params.max_epochs
        with limit_threads(self.threads):
            if val is not None:
                self.stopped_on_ = "val"
                net = self._train(xs, y, w, (scaler.transform(val[0]), val[1], val[2]), epochs)
            else:
                self.stopped_on_ = "inner_split"
                early, late = latest_slice(
                    len(y), self.params.validation_frac, role=f"{self.name} early stopping"
                )
                self._train(xs[early], y[early], w[early], (xs[late], y[late], w[late]), epochs)
                net = self._train(xs, y, w, None, self.best_epoch_)
        self.scaler_, self.network_ = scaler, net

    def _predict_arrays(self, x: np.ndarray) -> np.ndarray:
        with limit_threads(self.threads):
            return self.network_.predict_proba(self.scaler_.transform(x))

    def _save_native(self, directory: Path) -> list[str]:
        dump_skops({"scaler": self.scaler_, "network": self.network_}, directory / MODEL_FILE)
        return [MODEL_FILE]

    def _load_native(self, directory: Path, meta: dict[str, Any]) -> None:
        obj = load_skops(directory / MODEL_FILE, TRUSTED_TYPES)
        self.scaler_, self.network_ = obj["scaler"], obj["network"]
        self.best_epoch_, self.stopped_on_ = int(meta["best_epoch"]), meta["stopped_on"]

    def _extra_meta(self) -> dict[str, Any]:
        return {"best_epoch": self.best_epoch_, "stopped_on": self.stopped_on_}
