"""Transformer encoder classifier: linear input projection, sinusoidal positions, pre-norm encoder.

With ``causal: true`` each step attends only to itself and earlier steps; otherwise attention is
full over the window (every step is already in the past of the decision, so both are leak-free).
The representation of the window's last step feeds a linear head.
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
from mlfactory.models.sequence._layers import SinusoidalPositionalEncoding, transformer_encoder


class TransformerParams(SequenceParams):
    d_model: int = Field(64, ge=2, description="token width (divisible by heads)")
    heads: int = Field(4, ge=1)
    layers: int = Field(2, ge=1)
    d_ff: int = Field(128, ge=1, description="feed-forward width")
    causal: bool = False

    @model_validator(mode="after")
    def _heads_divide(self) -> TransformerParams:
        if self.d_model % self.heads or self.d_model % 2:
            raise ValueError(f"d_model ({self.d_model}) must be even and divisible by heads ({self.heads})")
        return self


class TransformerClassifier(nn.Module):
    def __init__(self, n_features: int, seq_len: int, p: TransformerParams) -> None:
        super().__init__()
        self.proj = nn.Linear(n_features, p.d_model)
        self.pos = SinusoidalPositionalEncoding(p.d_model, seq_len)
        self.drop = nn.Dropout(p.dropout)
        self.encoder = transformer_encoder(p.d_model, p.heads, p.layers, p.d_ff, p.dropout)
        self.head = nn.Linear(p.d_model, 3)
        self.causal = p.causal

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.drop(self.pos(self.proj(x)))
        mask = (
            nn.Transformer.generate_square_subsequent_mask(x.shape[1], device=x.device)
            if self.causal
            else None
        )
        h = self.encoder(h, mask=mask, is_causal=self.causal)
        return self.head(h[:, -1])


@register
class TransformerModel(SequenceModel):
    name = "transformer"
    family = Family.NEURAL
    default_timeframe = "5m"
    default_feature_set = "engineered"
    Params = TransformerParams
    search_space: ClassVar[dict[str, Any]] = {
        **COMMON_SEARCH_SPACE,
        "d_model": categorical_dim(32, 64, 128),
        "layers": int_dim(1, 4),
        "causal": categorical_dim(False, True),
    }

    params: TransformerParams

    def build_module(self, n_features: int, n_streams: int) -> nn.Module:
        return TransformerClassifier(n_features, self.params.seq_len, self.params)
