"""Triplet Attention.

Misra, Nalamada, Arasanipalai, Hou, "Rotate to Attend: Convolutional Triplet
Attention Module", WACV 2021, arXiv:2010.03045. Three branches capture the (C, W),
(C, H) and (H, W) interactions: each rotates the tensor, Z-pools (max and mean) over
its first axis, runs a k x k convolution with BN and a sigmoid, and gates the
rotated tensor. The three results are averaged. Default k = 7.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .cbam import SpatialGate
from .helpers import AttentionModule
from .registry import register_attention


@register_attention('triplet', paper='Triplet Attention (Misra et al., WACV 2021)', arxiv='2010.03045')
class TripletAttention(AttentionModule):
    """Average of three rotated Z-pool gates.

    Args:
        channels: Input and output channels (checked; the weights do not depend on it).
        kernel_size: Kernel of each branch's convolution.
    """

    def __init__(self, channels: int, kernel_size: int = 7, device=None, dtype=None) -> None:
        super().__init__(channels)
        dd = dict(device=device, dtype=dtype)
        # Each branch is CBAM's spatial gate (Z-pool, conv, BN, sigmoid) on a rotation.
        self.gate_cw = SpatialGate(kernel_size, **dd)
        self.gate_hc = SpatialGate(kernel_size, **dd)
        self.gate_hw = SpatialGate(kernel_size, **dd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        x_cw = x.permute(0, 2, 1, 3)                     # N, H, C, W: pools over H
        out_cw = (x_cw * self.gate_cw(x_cw)).permute(0, 2, 1, 3)
        x_hc = x.permute(0, 3, 2, 1)                     # N, W, H, C: pools over W
        out_hc = (x_hc * self.gate_hc(x_hc)).permute(0, 3, 2, 1)
        out_hw = x * self.gate_hw(x)
        return (out_hw + out_cw + out_hc) * (1.0 / 3.0)
