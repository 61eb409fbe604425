"""The shared recurrent model: ``lstm`` and ``gru`` differ only in their cell."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field
from torch import nn

from mlfactory.models.base import Family
from mlfactory.models.config import categorical_dim, int_dim
from mlfactory.models.sequence._base import COMMON_SEARCH_SPACE, SequenceModel, SequenceParams
from mlfactory.models.sequence._layers import RecurrentClassifier


class RecurrentParams(SequenceParams):
    hidden: int = Field(64, ge=1, description="recurrent state size")
    layers: int = Field(2, ge=1, description="stacked recurrent layers (dropout between them)")
    pooling: Literal["last", "attention"] = "last"


class RecurrentModel(SequenceModel):
    """Stacked recurrent cells over the window, last-state or attention pooling, linear head."""

    cell: ClassVar[type[nn.LSTM] | type[nn.GRU]]
    family = Family.NEURAL
    default_timeframe = "5m"
    default_feature_set = "engineered"
    Params = RecurrentParams
    search_space: ClassVar[dict[str, Any]] = {
        **COMMON_SEARCH_SPACE,
        "hidden": int_dim(32, 256, log=True),
        "layers": int_dim(1, 3),
        "pooling": categorical_dim("last", "attention"),
    }

    params: RecurrentParams

    def build_module(self, n_features: int, n_streams: int) -> nn.Module:
        p = self.params
        return RecurrentClassifier(self.cell, n_features, p.hidden, p.layers, p.dropout, p.pooling)
