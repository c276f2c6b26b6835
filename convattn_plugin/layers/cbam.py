"""Convolutional Block Attention Module.

Woo, Park, Lee, Kweon, "CBAM: Convolutional Block Attention Module", ECCV 2018,
arXiv:1807.06521. A channel gate, ``sigmoid(MLP(avgpool(x)) + MLP(maxpool(x)))`` with
one shared bottleneck MLP (r = 16), followed by a spatial gate,
``sigmoid(conv7x7([mean_c(x'); max_c(x')]))``, applied in that order.

As in the authors' code (and timm's), the 7x7 convolution is followed by BatchNorm.
"""
from __future__ import annotations

from typing import Optional, Type

import torch
import torch.nn as nn

from .helpers import AttentionModule, GateBatchNorm2d, reduced_channels
from .registry import register_attention


class SpatialGate(nn.Module):
    """CBAM's spatial gate: ``sigmoid(BN(conv_kxk([mean_c; max_c])))`` per position."""

    def __init__(self, kernel_size: int = 7, device=None, dtype=None) -> None:
        super().__init__()
        if not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f'SpatialGate: kernel_size must be a positive odd int, got {kernel_size!r}')
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False, device=device, dtype=dtype)
        self.bn = GateBatchNorm2d(1, device=device, dtype=dtype)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], dim=1)
        return self.gate(self.bn(self.conv(pooled)))


@register_attention('cbam', paper='CBAM (Woo et al., ECCV 2018)', arxiv='1807.06521')
class CBAM(AttentionModule):
    """Channel gate then spatial gate.

    Args:
        channels: Input and output channels.
        rd_ratio: Width of the shared MLP as a fraction of ``channels`` (1/r).
        rd_channels: Width of the shared MLP, overrides ``rd_ratio``.
        kernel_size: Kernel of the spatial gate's convolution.
        act_layer: Activation inside the MLP.
        mlp_bias: Whether the MLP's layers have biases (the paper's formula has none).
    """

    def __init__(
            self,
            channels: int,
            rd_ratio: float = 1 / 16,
            rd_channels: Optional[int] = None,
            kernel_size: int = 7,
            act_layer: Type[nn.Module] = nn.ReLU,
            mlp_bias: bool = False,
            device=None,
            dtype=None,
    ) -> None:
        super().__init__(channels)
        dd = dict(device=device, dtype=dtype)
        rd = reduced_channels(channels, rd_ratio, rd_channels)
        self.fc1 = nn.Conv2d(channels, rd, 1, bias=mlp_bias, **dd)
        self.act = act_layer(inplace=True)
        self.fc2 = nn.Conv2d(rd, channels, 1, bias=mlp_bias, **dd)
        self.gate = nn.Sigmoid()
        self.spatial = SpatialGate(kernel_size, **dd)

    def channel_gate(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        # One pass of the shared MLP over both descriptors, stacked on the batch axis.
        pooled = torch.cat([x.mean((2, 3), keepdim=True), x.amax((2, 3), keepdim=True)], dim=0)
        mlp = self.fc2(self.act(self.fc1(pooled)))
        return self.gate(mlp[:n] + mlp[n:])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        x = x * self.channel_gate(x)
        return x * self.spatial(x)
