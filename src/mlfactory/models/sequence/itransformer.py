"""iTransformer (Liu et al., 2024) for classification: variates as tokens.

Each variate's whole window (instance-normalised by RevIN) is embedded as one token; the encoder
attends across variates, so it models their dependencies while each token summarises one series
in time. The flattened token encodings feed a linear head (flattening keeps each variate's identity).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from pydantic import Field, model_validator
from torch import nn

from mlfactory.models.base import Family
from mlfactory.models.config import categorical_dim, int_dim
from mlfactory.models.registry import register
from mlfactory.models.sequence._base import COMMON_SEARCH_SPACE, SequenceModel, SequenceParams
from mlfactory.models.sequence._layers import RevIN, transformer_encoder


class ITransformerParams(SequenceParams):
    d_model: int = Field(64, ge=1, description="token width (divisible by heads)")
    heads: int = Field(4, ge=1)
    layers: int = Field(2, ge=1)
    d_ff: int = Field(128, ge=1)

    @model_validator(mode="after")
    def _heads_divide(self) -> ITransformerParams:
        if self.d_model % self.heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by heads ({self.heads})")
        return self


class ITransformer(nn.Module):
    def __init__(self, n_features: int, p: ITransformerParams) -> None:
        super().__init__()
        self.revin = RevIN(n_features)
        self.embed = nn.Linear(p.seq_len, p.d_model)
        self.drop = nn.Dropout(p.dropout)
        self.encoder = transformer_encoder(p.d_model, p.heads, p.layers, p.d_ff, p.dropout)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(p.dropout), nn.Linear(n_features * p.d_model, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.revin(x, dim=1).transpose(1, 2)  # (B, F, L): one token per variate
        return self.head(self.encoder(self.drop(self.embed(tokens))))


@register
class ITransformerModel(SequenceModel):
    name = "itransformer"
    family = Family.TRANSFORMER
    default_timeframe = "5m"
    default_feature_set = "raw_ohlcv"
    Params = ITransformerParams
    search_space: ClassVar[dict[str, Any]] = {
        **COMMON_SEARCH_SPACE,
        "d_model": categorical_dim(32, 64, 128),
        "layers": int_dim(1, 4),
    }

    params: ITransformerParams

    def build_module(self, n_features: int, n_streams: int) -> nn.Module:
        return ITransformer(n_features, self.params)
