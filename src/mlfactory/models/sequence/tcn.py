"""Temporal convolutional network (Bai, Kolter & Koltun, 2018): dilated causal convolutions.

Each level is a residual block of two causal convolutions with dilation ``2**level`` (left padding
only, so step ``t`` sees steps ``<= t``); the receptive field is ``1 + 2 (k - 1) (2**levels - 1)``
steps. The last step's features feed a linear head.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from pydantic import Field
from torch import nn

from mlfactory.models.base import Family
from mlfactory.models.config import int_dim
from mlfactory.models.registry import register
from mlfactory.models.sequence._base import COMMON_SEARCH_SPACE, SequenceModel, SequenceParams


class TCNParams(SequenceParams):
    channels: int = Field(64, ge=1, description="convolution channels per level")
    levels: int = Field(4, ge=1, description="residual blocks; dilation doubles per block")
    kernel_size: int = Field(3, ge=2)


class CausalConv1d(nn.Conv1d):
    """A 1D convolution padded on the left only: output step ``t`` depends on inputs ``<= t``."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, dilation: int) -> None:
        super().__init__(c_in, c_out, kernel_size, dilation=dilation)
        self.left_pad = (kernel_size - 1) * dilation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(nn.functional.pad(x, (self.left_pad, 0)))


class TemporalBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, kernel_size: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(
            CausalConv1d(c_in, c_out, kernel_size, dilation),
            nn.ReLU(),
            nn.Dropout(dropout),
            CausalConv1d(c_out, c_out, kernel_size, dilation),
            nn.ReLU(),
            nn.Dropout(dropout),
        )
        self.down = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.net(x) + self.down(x))


class TCN(nn.Module):
    def __init__(self, n_features: int, channels: int, levels: int, kernel_size: int, dropout: float) -> None:
        super().__init__()
        blocks = [
            TemporalBlock(n_features if i == 0 else channels, channels, kernel_size, 2**i, dropout)
            for i in range(levels)
        ]
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(x.transpose(1, 2))  # (B, C, L)
        return self.head(h[:, :, -1])


@register
class TCNModel(SequenceModel):
    name = "tcn"
    family = Family.NEURAL
    default_timeframe = "5m"
    default_feature_set = "engineered"
    Params = TCNParams
    search_space: ClassVar[dict[str, Any]] = {
        **COMMON_SEARCH_SPACE,
        "channels": int_dim(16, 128, log=True),
        "levels": int_dim(2, 6),
        "kernel_size": int_dim(2, 5),
    }

    params: TCNParams

    def build_module(self, n_features: int, n_streams: int) -> nn.Module:
        p = self.params
        return TCN(n_features, p.channels, p.levels, p.kernel_size, p.dropout)
