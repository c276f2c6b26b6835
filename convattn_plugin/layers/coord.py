"""Coordinate Attention.

Hou, Zhou, Feng, "Coordinate Attention for Efficient Mobile Network Design",
CVPR 2021, arXiv:2103.02907. Average pooling along each spatial axis keeps position
along the other; both strips share a 1x1 conv (C -> max(8, C/r)), BN and h-swish, then
split into a height gate and a width gate. Defaults: r = 32, at least 8 channels.
"""

from typing import Optional, Type

import torch
import torch.nn as nn

from .checks import check_int
from .helpers import GatingModule, GateBatchNorm2d, apply_gate, reduced_channels
from .registry import register_attention

# FX records these functions as calls instead of tracing into their shape/grad-mode branches.
torch.fx.wrap('apply_gate')


@register_attention('coord', paper='Coordinate Attention (Hou et al., CVPR 2021)', arxiv='2103.02907')
class CoordAttention(GatingModule):
    """``x * gate_h(x) * gate_w(x)`` from direction-aware pooled strips.

    Args:
        channels: Input and output channels.
        rd_ratio: Shared bottleneck width as a fraction of ``channels`` (1/r).
        rd_channels: Bottleneck width, overrides ``rd_ratio``.
        min_rd_channels: Lower bound on the bottleneck width (the paper's 8).
        act_layer: Activation after the shared convolution.
        rd_rounding: ``'round'`` (default) or ``'floor'`` (the authors' ``max(8, C // r)``).
        inplace: Change the input itself in inference instead of allocating the output,
            for inference only (as :class:`~convattn_plugin.layers.SqueezeExcite`'s).
            Default ``False``.
    """

    def __init__(
            self,
            channels: int,
            rd_ratio: float = 1 / 32,
            rd_channels: Optional[int] = None,
            min_rd_channels: int = 8,
            act_layer: Type[nn.Module] = nn.Hardswish,
            rd_rounding: str = 'round',
            inplace: bool = False,
            device=None,
            dtype=None,
    ) -> None:
        super().__init__(channels, inplace)
        dd = dict(device=device, dtype=dtype)
        # The paper's floor of 8 exceeds small inputs; beyond max(channels, 8) it is a typo.
        check_int(min_rd_channels, 'min_rd_channels', self.class_name, 1, max(channels, 8))
        rd = reduced_channels(channels, rd_ratio, rd_channels, min_channels=min_rd_channels,
                              owner=self.class_name, rounding=rd_rounding)
        self.conv1 = nn.Conv2d(channels, rd, 1, bias=False, **dd)  # BN follows
        self.bn1 = GateBatchNorm2d(rd, **dd)
        self.act = act_layer()
        self.conv_h = nn.Conv2d(rd, channels, 1, **dd)
        self.conv_w = nn.Conv2d(rd, channels, 1, **dd)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        h, w = x.shape[2:]
        strip_h = x.mean(3, keepdim=True)                      # N, C, H, 1
        strip_w = x.mean(2, keepdim=True).transpose(2, 3)      # N, C, W, 1
        y = self.act(self.bn1(self.conv1(torch.cat([strip_h, strip_w], dim=2))))
        y_h, y_w = torch.split(y, [h, w], dim=2)
        gate_h = self.gate(self.conv_h(y_h))                   # N, C, H, 1
        gate_w = self.gate(self.conv_w(y_w.transpose(2, 3)))   # N, C, 1, W
        # The second product goes into the first one's result (this module's own tensor).
        return apply_gate(apply_gate(x, gate_h, self.inplace), gate_w, True)
