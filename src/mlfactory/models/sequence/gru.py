"""GRU classifier: stacked GRU over the window, last-state or attention pooling, linear head."""

from __future__ import annotations

from torch import nn

from mlfactory.models.registry import register
from mlfactory.models.sequence._recurrent import RecurrentModel


@register
class GRUModel(RecurrentModel):
    name = "gru"
    cell = nn.GRU
