"""Squeeze-and-Excitation.

Hu, Shen, Albanie, Sun, Wu, "Squeeze-and-Excitation Networks", CVPR 2018,
arXiv:1709.01507. Global average pooling (squeeze), a two-layer bottleneck with
reduction ratio r = 16 (excitation), and a sigmoid gate per channel.
"""
from __future__ import annotations

from typing import Optional, Type

import torch
import torch.nn as nn

from .helpers import AttentionModule, reduced_channels
from .registry import register_attention


@register_attention('se', paper='Squeeze-and-Excitation Networks (Hu et al., CVPR 2018)', arxiv='1709.01507')
class SqueezeExcite(AttentionModule):
    """Channel gate ``sigmoid(W2 relu(W1 avgpool(x)))``.

    Args:
        channels: Input and output channels.
        rd_ratio: Bottleneck width as a fraction of ``channels`` (the paper's 1/r).
        rd_channels: Bottleneck width, overrides ``rd_ratio``.
        act_layer: Activation between the two layers.
    """

    def __init__(
            self,
            channels: int,
            rd_ratio: float = 1 / 16,
            rd_channels: Optional[int] = None,
            act_layer: Type[nn.Module] = nn.ReLU,
            device=None,
            dtype=None,
    ) -> None:
        super().__init__(channels)
        dd = dict(device=device, dtype=dtype)
        rd = reduced_channels(channels, rd_ratio, rd_channels)
        self.fc1 = nn.Conv2d(channels, rd, 1, **dd)
        self.act = act_layer(inplace=True)
        self.fc2 = nn.Conv2d(rd, channels, 1, **dd)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        s = x.mean((2, 3), keepdim=True)
        return x * self.gate(self.fc2(self.act(self.fc1(s))))
