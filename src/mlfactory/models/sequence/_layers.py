"""Building blocks shared by several sequence networks.

Every network maps a batch ``(B, L, F)`` (or ``(B, S, L, F)`` for multi-stream input) to logits
``(B, 3)`` over the classes (-1, 0, 1).
"""

from __future__ import annotations

import math

import torch
from torch import nn


class RevIN(nn.Module):
    """Reversible instance normalisation (Kim et al., 2022), forward half only.

    Each series of a window is standardised by its own mean and std over time (``dim``), then given
    a learnable per-channel affine map. A classifier never de-normalises, so only the forward half is
    needed; the window's level and scale are deliberately removed (raw prices are non-stationary).
    """

    def __init__(self, n_channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(n_channels))
        self.bias = nn.Parameter(torch.zeros(n_channels))

    def forward(self, x: torch.Tensor, dim: int = -2) -> torch.Tensor:
        """``x`` with channels last; statistics over ``dim`` (time)."""
        mean = x.mean(dim=dim, keepdim=True)
        std = torch.sqrt(x.var(dim=dim, keepdim=True, unbiased=False) + self.eps)
        return (x - mean) / std * self.weight + self.bias


class SinusoidalPositionalEncoding(nn.Module):
    """Fixed sine/cosine positional encoding (Vaswani et al., 2017) added to ``(B, L, d)``."""

    def __init__(self, d_model: int, max_len: int) -> None:
        super().__init__()
        pos = torch.arange(max_len, dtype=torch.float32)[:, None]
        div = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(pos * div)
        pe[:, 1::2] = torch.cos(pos * div[: d_model // 2])
        self.register_buffer("pe", pe, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pe[: x.shape[1]].to(x.dtype)


class AttentionPooling(nn.Module):
    """Softmax-weighted average over time of ``(B, L, d)`` → ``(B, d)``."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.score = nn.Linear(d, 1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        w = torch.softmax(self.score(h).squeeze(-1), dim=1)
        return torch.einsum("bl,bld->bd", w, h)


class RecurrentClassifier(nn.Module):
    """Stacked LSTM/GRU over the window, pooled by its last state or by attention, then a linear head."""

    def __init__(
        self,
        rnn: type[nn.LSTM] | type[nn.GRU],
        n_features: int,
        hidden: int,
        layers: int,
        dropout: float,
        pooling: str,
    ) -> None:
        super().__init__()
        self.rnn = rnn(n_features, hidden, layers, batch_first=True, dropout=dropout if layers > 1 else 0.0)
        self.pool = AttentionPooling(hidden) if pooling == "attention" else None
        self.head = nn.Sequential(nn.LayerNorm(hidden), nn.Dropout(dropout), nn.Linear(hidden, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.rnn(x)
        z = self.pool(h) if self.pool is not None else h[:, -1]
        return self.head(z)


class GatedLinearUnit(nn.Module):
    """``GLU(x) = σ(W₁x) ⊙ W₂x`` (Dauphin et al., 2017), the gate of the TFT."""

    def __init__(self, d_in: int, d_out: int, dropout: float) -> None:
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.proj = nn.Linear(d_in, 2 * d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.glu(self.proj(self.drop(x)), dim=-1)


class GatedResidualNetwork(nn.Module):
    """TFT gated residual network: ``LayerNorm(skip(x) + GLU(W₁ ELU(W₂x)))`` (Lim et al., 2021)."""

    def __init__(self, d_in: int, d_hidden: int, d_out: int, dropout: float) -> None:
        super().__init__()
        self.skip = nn.Linear(d_in, d_out) if d_in != d_out else nn.Identity()
        self.fc1 = nn.Linear(d_in, d_hidden)
        self.fc2 = nn.Linear(d_hidden, d_hidden)
        self.gate = GatedLinearUnit(d_hidden, d_out, dropout)
        self.norm = nn.LayerNorm(d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.fc2(nn.functional.elu(self.fc1(x)))
        return self.norm(self.skip(x) + self.gate(h))


def transformer_encoder(
    d_model: int, heads: int, layers: int, d_ff: int, dropout: float
) -> nn.TransformerEncoder:
    """A pre-norm ``nn.TransformerEncoder`` (batch first, GELU) with a final LayerNorm."""
    layer = nn.TransformerEncoderLayer(
        d_model, heads, d_ff, dropout, activation="gelu", batch_first=True, norm_first=True
    )
    return nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(d_model), enable_nested_tensor=False)
