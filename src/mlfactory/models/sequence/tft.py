"""Temporal Fusion Transformer (Lim et al., 2021), encoder side, for classification.

The window holds only observed inputs (engineered features, MTF indicators, calendar columns);
there are no static covariates or known future inputs, so the static encoders and the decoder are
left out. Blocks, as in the paper:

- variable selection: a gated residual network over the step's raw inputs gives softmax weights
  over the variables; each variable has its own linear embedding and the step's input is their
  weighted sum (per-variable linear rather than per-variable GRN embeddings, which keeps memory
  linear in the number of features: the ``(B, L, F, d)`` tensor is never formed);
- an LSTM for local processing with a gated skip connection;
- enrichment GRN, then interpretable multi-head attention (heads share the value projection, so
  the head-averaged weights are an attention distribution over past steps), causal;
- a position-wise GRN and a gated skip to the LSTM output; the last step feeds a linear head.

``TFTModel.attention_weights(x)`` exports the last step's attention over the window ``(n, L)`` and
``TFTModel.variable_importance(x)`` the variable selection weights averaged over the window ``(n, F)``.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import torch
from pydantic import Field, model_validator
from torch import nn

from mlfactory.adapters.views import ModelInput
from mlfactory.models.base import Family, MtfStrategy
from mlfactory.models.config import categorical_dim
from mlfactory.models.registry import register
from mlfactory.models.sequence._base import COMMON_SEARCH_SPACE, SequenceModel, SequenceParams
from mlfactory.models.sequence._layers import GatedLinearUnit, GatedResidualNetwork


class TFTParams(SequenceParams):
    hidden: int = Field(32, ge=1, description="model width d (divisible by heads)")
    heads: int = Field(4, ge=1)

    @model_validator(mode="after")
    def _heads_divide(self) -> TFTParams:
        if self.hidden % self.heads:
            raise ValueError(f"hidden ({self.hidden}) must be divisible by heads ({self.heads})")
        return self


class InterpretableMultiHeadAttention(nn.Module):
    """Per-head queries and keys, one shared value projection; heads are averaged (TFT eq. 14–16)."""

    def __init__(self, d: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.d_head = heads, d // heads
        self.q = nn.Linear(d, heads * self.d_head)
        self.k = nn.Linear(d, heads * self.d_head)
        self.v = nn.Linear(d, self.d_head)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(self.d_head, d)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, length, _ = x.shape
        q = self.q(x).view(b, length, self.heads, self.d_head).transpose(1, 2)
        k = self.k(x).view(b, length, self.heads, self.d_head).transpose(1, 2)
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.d_head)  # (B, H, L, L)
        future = torch.ones(length, length, dtype=torch.bool, device=x.device).triu(1)
        attn = torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)
        weights = self.drop(attn).mean(dim=1)  # (B, L, L): shared V makes the head average exact
        return self.out(weights @ self.v(x)), attn.mean(dim=1)


class TemporalFusionTransformer(nn.Module):
    def __init__(self, n_features: int, d: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.var_weight = nn.Parameter(torch.randn(n_features, d) / math.sqrt(d))
        self.var_bias = nn.Parameter(torch.zeros(n_features, d))
        self.selector = GatedResidualNetwork(n_features, d, n_features, dropout)
        self.lstm = nn.LSTM(d, d, batch_first=True)
        self.lstm_gate, self.lstm_norm = GatedLinearUnit(d, d, dropout), nn.LayerNorm(d)
        self.enrich = GatedResidualNetwork(d, d, d, dropout)
        self.attn = InterpretableMultiHeadAttention(d, heads, dropout)
        self.attn_gate, self.attn_norm = GatedLinearUnit(d, d, dropout), nn.LayerNorm(d)
        self.ff = GatedResidualNetwork(d, d, d, dropout)
        self.out_gate, self.out_norm = GatedLinearUnit(d, d, dropout), nn.LayerNorm(d)
        self.head = nn.Linear(d, 3)

    def forward_with_weights(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Logits ``(B, 3)``, attention ``(B, L, L)`` and variable selection weights ``(B, L, F)``."""
        sel = torch.softmax(self.selector(x), dim=-1)
        # Σ_f sel_f (x_f W_f + b_f), without forming the (B, L, F, d) embeddings
        emb = torch.einsum("blf,fd->bld", sel * x, self.var_weight) + torch.einsum(
            "blf,fd->bld", sel, self.var_bias
        )
        h, _ = self.lstm(emb)
        h = self.lstm_norm(emb + self.lstm_gate(h))
        e = self.enrich(h)
        a, attn = self.attn(e)
        a = self.attn_norm(e + self.attn_gate(a))
        out = self.out_norm(h + self.out_gate(self.ff(a)))
        return self.head(out[:, -1]), attn, sel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_weights(x)[0]


@register
class TFTModel(SequenceModel):
    name = "tft"
    family = Family.TRANSFORMER
    default_timeframe = "5m"
    default_mtf_strategy = MtfStrategy.MTF_INDICATORS
    default_mtf_timeframes = ("15m", "1h", "4h")
    default_feature_set = "engineered_mtf"
    Params = TFTParams
    search_space: ClassVar[dict[str, Any]] = {**COMMON_SEARCH_SPACE, "hidden": categorical_dim(16, 32, 64)}

    params: TFTParams

    def build_module(self, n_features: int, n_streams: int) -> nn.Module:
        return TemporalFusionTransformer(
            n_features, self.params.hidden, self.params.heads, self.params.dropout
        )

    def attention_weights(self, x: ModelInput) -> np.ndarray:
        """``(n, seq_len)``: the last step's head-averaged attention over the window (rows sum to 1)."""
        return self.map_batches(x, lambda m, xb: m.forward_with_weights(xb)[1][:, -1, :])

    def variable_importance(self, x: ModelInput) -> np.ndarray:
        """``(n, n_features)``: variable selection weights averaged over each window (rows sum to 1)."""
        return self.map_batches(x, lambda m, xb: m.forward_with_weights(xb)[2].mean(dim=1))
