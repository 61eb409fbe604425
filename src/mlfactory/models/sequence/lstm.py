"""LSTM classifier: stacked LSTM over the window, last-state or attention pooling, linear head."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field
from torch import nn

from mlfactory.models.base import Family
from mlfactory.models.config import categorical_dim, int_dim
from mlfactory.models.registry import register
from mlfactory.models.sequence._base import COMMON_SEARCH_SPACE, SequenceModel, SequenceParams
from mlfactory.models.sequence._layers import RecurrentClassifier


class LSTMParams(SequenceParams):
    hidden: int = Field(64, ge=1, description="LSTM state size")
    layers: int = Field(2, ge=1, description="stacked LSTM layers (dropout between them)")
    pooling: Literal["last", "attention"] = "last"


@register
class LSTMModel(SequenceModel):
    name = "lstm"
    family = Family.NEURAL
    default_timeframe = "5m"
    default_feature_set = "engineered"
    Params = LSTMParams
    search_space: ClassVar[dict[str, Any]] = {
        **COMMON_SEARCH_SPACE,
        "hidden": int_dim(32, 256, log=True),
        "layers": int_dim(1, 3),
        "pooling": categorical_dim("last", "attention"),
    }

    params: LSTMParams

    def build_module(self, n_features: int, n_streams: int) -> nn.Module:
        p = self.params
        return RecurrentClassifier(nn.LSTM, n_features, p.hidden, p.layers, p.dropout, p.pooling)
