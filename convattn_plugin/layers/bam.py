"""Bottleneck Attention Module.

Park, Woo, Lee, Kweon, "BAM: Bottleneck Attention Module", BMVC 2018,
arXiv:1807.06514. ``F' = F + F * sigmoid(Mc(F) + Ms(F))`` where the channel branch
``Mc`` is an MLP over the average-pooled descriptor (C -> C/r -> C, BN, ReLU) and the
spatial branch ``Ms`` is 1x1 reduce (C -> C/r), two dilated 3x3 convolutions and a
1x1 projection to one map, with BN and ReLU between. Defaults: r = 16, dilation 4.
"""

from typing import Optional, Type

import torch
import torch.nn as nn

from .checks import MAX_KERNEL_SIZE, check_int
from .helpers import GatingModule, GateBatchNorm2d, apply_gate, reduced_channels
from .registry import register_attention

# FX records these functions as calls instead of tracing into their shape/grad-mode branches.
torch.fx.wrap('apply_gate')


# The paper uses 2; the bound stops a typo from stacking thousands of layers.
MAX_DILATED_CONVS = 8


@register_attention('bam', paper='BAM (Park et al., BMVC 2018)', arxiv='1807.06514')
class BottleneckAttention(GatingModule):
    """Residual gate from the sum of a channel and a spatial branch.

    Args:
        channels: Input and output channels.
        rd_ratio: Bottleneck width of both branches as a fraction of ``channels`` (1/r).
        rd_channels: Bottleneck width, overrides ``rd_ratio``.
        dilation: Dilation of the spatial branch's 3x3 convolutions.
        num_dilated_convs: How many dilated 3x3 convolutions the spatial branch has.
        act_layer: Activation inside both branches.
        inplace: Change the input itself in inference instead of allocating the output,
            for inference only (as :class:`~convattn_plugin.layers.SqueezeExcite`'s).
            Default ``False``.
    """

    def __init__(
            self,
            channels: int,
            rd_ratio: float = 1 / 16,
            rd_channels: Optional[int] = None,
            dilation: int = 4,
            num_dilated_convs: int = 2,
            act_layer: Type[nn.Module] = nn.ReLU,
            inplace: bool = False,
            device=None,
            dtype=None,
    ) -> None:
        super().__init__(channels, inplace)
        dd = dict(device=device, dtype=dtype)
        rd = reduced_channels(channels, rd_ratio, rd_channels, owner=self.class_name)
        check_int(dilation, 'dilation', self.class_name, 1, MAX_KERNEL_SIZE)
        check_int(num_dilated_convs, 'num_dilated_convs', self.class_name, 0, MAX_DILATED_CONVS)
        # Convolutions followed by BN have no bias: BN's shift would cancel it.
        self.channel_branch = nn.Sequential(
            nn.Conv2d(channels, rd, 1, bias=False, **dd),
            GateBatchNorm2d(rd, **dd),
            act_layer(inplace=True),
            nn.Conv2d(rd, channels, 1, **dd),
        )
        spatial = [nn.Conv2d(channels, rd, 1, bias=False, **dd), GateBatchNorm2d(rd, **dd), act_layer(inplace=True)]
        for _ in range(num_dilated_convs):
            spatial += [
                nn.Conv2d(rd, rd, 3, padding=dilation, dilation=dilation, bias=False, **dd),
                GateBatchNorm2d(rd, **dd),
                act_layer(inplace=True),
            ]
        spatial += [nn.Conv2d(rd, 1, 1, **dd)]
        self.spatial_branch = nn.Sequential(*spatial)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        attn = self.gate(self.channel_branch(x.mean((2, 3), keepdim=True)) + self.spatial_branch(x))
        return apply_gate(x, 1.0 + attn, self.inplace)  # x + x * attn
