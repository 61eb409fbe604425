"""InceptionTime (Ismail Fawaz et al., 2020): inception modules with a bottleneck and residuals.

Each module applies a 1×1 bottleneck, three parallel convolutions of decreasing kernel size and a
max-pool → 1×1 branch, concatenated (``4 · filters`` channels) with batch norm and ReLU. A residual
shortcut spans every three modules. Global average pooling over time feeds a linear head.
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


class InceptionTimeParams(SequenceParams):
    filters: int = Field(32, ge=1, description="channels per branch (a module outputs 4x)")
    depth: int = Field(6, ge=1, description="inception modules (residual every 3)")
    kernel_size: int = Field(40, ge=4, description="longest kernel; the others are 1/2 and 1/4 of it (odd)")
    bottleneck: int = Field(32, ge=1)


def branch_kernels(kernel_size: int) -> tuple[int, ...]:
    """Odd kernel sizes ``k, k/2, k/4`` (each rounded down to odd) for 'same' padding."""
    return tuple(k - (1 - k % 2) for k in (kernel_size, kernel_size // 2, kernel_size // 4))


class InceptionModule(nn.Module):
    def __init__(self, c_in: int, filters: int, kernel_size: int, bottleneck: int) -> None:
        super().__init__()
        self.bottleneck = nn.Conv1d(c_in, bottleneck, 1, bias=False) if c_in > 1 else nn.Identity()
        c_b = bottleneck if c_in > 1 else c_in
        self.convs = nn.ModuleList(
            nn.Conv1d(c_b, filters, k, padding=k // 2, bias=False) for k in branch_kernels(kernel_size)
        )
        self.pool_branch = nn.Sequential(
            nn.MaxPool1d(3, stride=1, padding=1), nn.Conv1d(c_in, filters, 1, bias=False)
        )
        self.norm = nn.BatchNorm1d(4 * filters)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = self.bottleneck(x)
        out = torch.cat([conv(b) for conv in self.convs] + [self.pool_branch(x)], dim=1)
        return torch.relu(self.norm(out))


class InceptionTime(nn.Module):
    def __init__(self, n_features: int, p: InceptionTimeParams) -> None:
        super().__init__()
        c = 4 * p.filters
        self.modules_ = nn.ModuleList(
            InceptionModule(n_features if i == 0 else c, p.filters, p.kernel_size, p.bottleneck)
            for i in range(p.depth)
        )
        self.shortcuts = nn.ModuleList(
            nn.Sequential(nn.Conv1d(n_features if i == 0 else c, c, 1, bias=False), nn.BatchNorm1d(c))
            for i in range(p.depth // 3)
        )
        self.head = nn.Sequential(nn.Dropout(p.dropout), nn.Linear(c, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.transpose(1, 2)  # (B, F, L)
        res = h
        for i, module in enumerate(self.modules_):
            h = module(h)
            if i % 3 == 2:
                h = torch.relu(h + self.shortcuts[i // 3](res))
                res = h
        return self.head(h.mean(dim=-1))


@register
class InceptionTimeModel(SequenceModel):
    name = "inceptiontime"
    family = Family.CNN
    default_timeframe = "5m"
    default_feature_set = "engineered"
    Params = InceptionTimeParams
    search_space: ClassVar[dict[str, Any]] = {
        **COMMON_SEARCH_SPACE,
        "filters": categorical_dim(16, 32, 64),
        "depth": int_dim(3, 9, step=3),
        "kernel_size": categorical_dim(20, 40),
    }

    params: InceptionTimeParams

    def build_module(self, n_features: int, n_streams: int) -> nn.Module:
        return InceptionTime(n_features, self.params)
