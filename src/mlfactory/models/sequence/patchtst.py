"""PatchTST (Nie et al., 2023) for classification: patches, channel independence, RevIN.

Every series — each channel of each stream — is handled independently by one shared network: it
is instance-normalised over its window (RevIN), cut into patches of ``patch_len`` steps every
``stride`` steps (the end padded by repeating the last value ``stride`` times, as in the paper),
each patch linearly embedded with a learned position, and encoded by a Transformer. The flattened
encodings of all series feed a linear head. Input is a 3D window view or a 4D multi-stream view
(e.g. 1m + 5m + 15m raw OHLCV windows aligned on closed bars).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from pydantic import Field, model_validator
from torch import nn

from mlfactory.models.base import Family, InputKind, MtfStrategy
from mlfactory.models.config import categorical_dim, int_dim
from mlfactory.models.registry import register
from mlfactory.models.sequence._base import COMMON_SEARCH_SPACE, SequenceModel, SequenceParams
from mlfactory.models.sequence._layers import RevIN, transformer_encoder


class PatchTSTParams(SequenceParams):
    seq_len: int = Field(64, ge=2, description="window length in bars of every stream")
    patch_len: int = Field(8, ge=1)
    stride: int = Field(8, ge=1)
    d_model: int = Field(64, ge=1, description="patch embedding width (divisible by heads)")
    heads: int = Field(4, ge=1)
    layers: int = Field(2, ge=1)
    d_ff: int = Field(128, ge=1)

    @model_validator(mode="after")
    def _check_sizes(self) -> PatchTSTParams:
        if self.seq_len < self.patch_len:
            raise ValueError(f"seq_len ({self.seq_len}) must be at least patch_len ({self.patch_len})")
        if self.d_model % self.heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by heads ({self.heads})")
        return self


def n_patches(seq_len: int, patch_len: int, stride: int) -> int:
    """Patches per series after padding the end with ``stride`` repeats of the last value."""
    return (seq_len + stride - patch_len) // stride + 1


class PatchTST(nn.Module):
    def __init__(self, n_series: int, p: PatchTSTParams) -> None:
        super().__init__()
        self.patch_len, self.stride = p.patch_len, p.stride
        n = n_patches(p.seq_len, p.patch_len, p.stride)
        self.revin = RevIN(n_series)
        self.embed = nn.Linear(p.patch_len, p.d_model)
        self.pos = nn.Parameter(torch.randn(n, p.d_model) * 0.02)
        self.drop = nn.Dropout(p.dropout)
        self.encoder = transformer_encoder(p.d_model, p.heads, p.layers, p.d_ff, p.dropout)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(p.dropout), nn.Linear(n_series * n * p.d_model, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 3:
            x = x.unsqueeze(1)
        b, s, length, c = x.shape
        series = x.permute(0, 2, 1, 3).reshape(b, length, s * c)  # (B, L, S·C)
        series = self.revin(series, dim=1).transpose(1, 2)  # (B, S·C, L)
        series = torch.cat([series, series[..., -1:].expand(-1, -1, self.stride)], dim=-1)
        patches = series.unfold(-1, self.patch_len, self.stride)  # (B, S·C, N, P)
        h = self.drop(self.embed(patches) + self.pos)
        h = self.encoder(h.reshape(b * s * c, *h.shape[2:]))  # channel independence: one sequence per series
        return self.head(h.reshape(b, -1))


@register
class PatchTSTModel(SequenceModel):
    name = "patchtst"
    family = Family.TRANSFORMER
    input_kind = InputKind.MULTISTREAM
    accepted_ndims = (3, 4)
    default_timeframe = "1m"
    default_mtf_strategy = MtfStrategy.MTF_INGESTION
    default_mtf_timeframes = ("5m", "15m")
    default_feature_set = "raw_ohlcv"
    Params = PatchTSTParams
    search_space: ClassVar[dict[str, Any]] = {
        **COMMON_SEARCH_SPACE,
        "patch_len": categorical_dim(4, 8, 16),
        "d_model": categorical_dim(32, 64, 128),
        "layers": int_dim(1, 3),
    }

    params: PatchTSTParams

    def build_module(self, n_features: int, n_streams: int) -> nn.Module:
        return PatchTST(n_streams * n_features, self.params)
