"""N-BEATS (Oreshkin et al., 2020) with a classification head.

The flattened window passes through stacks of fully connected blocks; each block emits a
backcast, subtracted from its input before the next block (doubly residual stacking), and a
"forecast" that here is a contribution to the class logits, summed over blocks (generic basis).
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


class NBeatsParams(SequenceParams):
    stacks: int = Field(2, ge=1)
    blocks_per_stack: int = Field(2, ge=1)
    fc_layers: int = Field(3, ge=1, description="fully connected layers per block")
    width: int = Field(128, ge=1, description="units per fully connected layer")


class NBeatsBlock(nn.Module):
    def __init__(self, d_in: int, width: int, fc_layers: int, dropout: float) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(fc_layers):
            layers += [nn.Linear(d_in if i == 0 else width, width), nn.ReLU(), nn.Dropout(dropout)]
        self.fc = nn.Sequential(*layers)
        self.backcast = nn.Linear(width, d_in)
        self.forecast = nn.Linear(width, 3)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.fc(x)
        return self.backcast(h), self.forecast(h)


class NBeats(nn.Module):
    def __init__(self, d_in: int, n_blocks: int, width: int, fc_layers: int, dropout: float) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(NBeatsBlock(d_in, width, fc_layers, dropout) for _ in range(n_blocks))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x.flatten(1)
        logits = torch.zeros(x.shape[0], 3, dtype=residual.dtype, device=x.device)
        for block in self.blocks:
            back, fore = block(residual)
            residual = residual - back
            logits = logits + fore
        return logits


@register
class NBeatsModel(SequenceModel):
    name = "nbeats"
    family = Family.MLP
    default_timeframe = "5m"
    default_feature_set = "engineered"
    Params = NBeatsParams
    search_space: ClassVar[dict[str, Any]] = {
        **COMMON_SEARCH_SPACE,
        "width": categorical_dim(64, 128, 256, 512),
        "blocks_per_stack": int_dim(1, 4),
    }

    params: NBeatsParams

    def build_module(self, n_features: int, n_streams: int) -> nn.Module:
        p = self.params
        return NBeats(p.seq_len * n_features, p.stacks * p.blocks_per_stack, p.width, p.fc_layers, p.dropout)
