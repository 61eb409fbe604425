"""LSTM classifier: stacked LSTM over the window, last-state or attention pooling, linear head."""

from __future__ import annotations

from torch import nn

from mlfactory.models.registry import register
from mlfactory.models.sequence._recurrent import RecurrentModel


@register
class LSTMModel(RecurrentModel):
    name = "lstm"
    cell = nn.LSTM
