"""Convolutional gate: ``x * sigmoid(conv1x1(x))``.

The plain "convolutional attention module" of the project's first design document
(seed 000): one 1x1 convolution produces a per-position, per-channel gate. The seed
also built a second 1x1 convolution that its ``forward`` never used; it is left out.
In the literature this is a sigmoid-gated (GLU-style) unit, as in Dauphin et al.,
"Language Modeling with Gated Convolutional Networks" (arXiv:1612.08083).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .helpers import AttentionModule
from .registry import register_attention


@register_attention(
    'convgate', paper='Gated convolution, sigmoid(conv1x1(x)) (Dauphin et al., 2017; seed 000)',
    arxiv='1612.08083')
class ConvGate(AttentionModule):
    """Per-position, per-channel sigmoid gate from one 1x1 convolution.

    Args:
        channels: Input and output channels.
        bias: Whether the 1x1 convolution has a bias.
    """

    def __init__(self, channels: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__(channels)
        self.conv = nn.Conv2d(channels, channels, 1, bias=bias, device=device, dtype=dtype)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return x * self.gate(self.conv(x))
