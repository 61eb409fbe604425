"""1D residual network for time series classification (Wang, Yan & Oates, 2017).

Residual blocks of three convolutions (kernels 7, 5, 3 — the paper's 8 made odd so
'same' padding is symmetric) with batch norm and ReLU,
a 1×1 convolution shortcut when the width changes; global average pooling over time feeds a
linear head. Widths: ``filters`` for the first block, ``2 · filters`` after.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from pydantic import Field
from torch import nn

from mlfactory.models.base import Family
from mlfactory.models.config import categorical_dim, int_dim
from mlfactory.models.registry import register
from mlfactory.models.sequence._base import COMMON_SEARCH_SPACE, SequenceModel, SequenceParams

KERNELS = (7, 5, 3)  # the paper's 8, 5, 3 with the even kernel made odd for symmetric padding


class ResNet1DParams(SequenceParams):
    filters: int = Field(64, ge=1, description="channels of the first block (later blocks: 2x)")
    blocks: int = Field(3, ge=1)


class ResidualBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i, k in enumerate(KERNELS):
            layers += [
                nn.Conv1d(c_in if i == 0 else c_out, c_out, k, padding=k // 2, bias=False),
                nn.BatchNorm1d(c_out),
            ]
            if i < len(KERNELS) - 1:
                layers.append(nn.ReLU())
        self.body = nn.Sequential(*layers)
        self.shortcut = (
            nn.Sequential(nn.Conv1d(c_in, c_out, 1, bias=False), nn.BatchNorm1d(c_out))
            if c_in != c_out
            else nn.BatchNorm1d(c_out)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


class ResNet1D(nn.Module):
    def __init__(self, n_features: int, filters: int, blocks: int, dropout: float) -> None:
        super().__init__()
        widths = [filters] + [2 * filters] * (blocks - 1)
        self.blocks = nn.Sequential(
            *(ResidualBlock(n_features if i == 0 else widths[i - 1], w) for i, w in enumerate(widths))
        )
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(widths[-1], 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(x.transpose(1, 2)).mean(dim=-1))


@register
class ResNet1DModel(SequenceModel):
    name = "resnet1d"
    family = Family.CNN
    default_timeframe = "5m"
    default_feature_set = "engineered"
    Params = ResNet1DParams
    search_space: ClassVar[dict[str, Any]] = {
        **COMMON_SEARCH_SPACE,
        "filters": categorical_dim(32, 64, 128),
        "blocks": int_dim(2, 4),
    }

    params: ResNet1DParams

    def build_module(self, n_features: int, n_streams: int) -> nn.Module:
        p = self.params
        return ResNet1D(n_features, p.filters, p.blocks, p.dropout)
