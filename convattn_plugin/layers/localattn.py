"""Local attention: a channel gate times a per-position gate, both from 1x1 convolutions.

The local attention ("局部注意力机制") of the project's VGG16-with-attention design
document. It joins an SE-style channel gate (Hu et al., arXiv:1709.01507)
with a spatial gate computed by a 1x1-conv bottleneck, as in the spatial branch of
BAM (Park et al., arXiv:1807.06514) without dilation:

    channel = sigmoid(conv(relu(conv(avgpool(x)))))      C -> C/r -> C
    spatial = sigmoid(conv(relu(conv(x))))                C -> C/r -> 1
    out     = x * channel * spatial,   r = 8
"""

from typing import Optional, Type

import torch
import torch.nn as nn

from .helpers import GatingModule, apply_gate, reduced_channels
from .registry import register_attention

# FX records these functions as calls instead of tracing into their shape/grad-mode branches.
torch.fx.wrap('apply_gate')


@register_attention(
    'localattn', paper="Local channel x spatial attention (the project's VGG16 design; SE + BAM-style spatial gate)",
    arxiv='1709.01507')
class LocalAttention(GatingModule):
    """Product of a channel gate and a spatial gate, multiplied onto the input.

    Args:
        channels: Input and output channels.
        rd_ratio: Bottleneck width of both branches as a fraction of ``channels`` (1/r).
        rd_channels: Bottleneck width, overrides ``rd_ratio``.
        act_layer: Activation inside both bottlenecks.
        rd_rounding: ``'round'`` (default) or ``'floor'`` (``C // r``).
        inplace: Change the input itself in inference instead of allocating the output,
            for inference only (as :class:`~convattn_plugin.layers.SqueezeExcite`'s).
            Default ``False``.
    """

    def __init__(
            self,
            channels: int,
            rd_ratio: float = 1 / 8,
            rd_channels: Optional[int] = None,
            act_layer: Type[nn.Module] = nn.ReLU,
            rd_rounding: str = 'round',
            inplace: bool = False,
            device=None,
            dtype=None,
    ) -> None:
        super().__init__(channels, inplace)
        dd = dict(device=device, dtype=dtype)
        rd = reduced_channels(channels, rd_ratio, rd_channels, owner=self.class_name, rounding=rd_rounding)
        self.channel_fc1 = nn.Conv2d(channels, rd, 1, **dd)
        self.channel_fc2 = nn.Conv2d(rd, channels, 1, **dd)
        self.gate = nn.Sigmoid()
        self.spatial_conv1 = nn.Conv2d(channels, rd, 1, **dd)
        self.spatial_conv2 = nn.Conv2d(rd, 1, 1, **dd)
        self.spatial_gate = nn.Sigmoid()
        self.act = act_layer(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        channel = self.gate(self.channel_fc2(self.act(self.channel_fc1(x.mean((2, 3), keepdim=True)))))
        spatial = self.spatial_gate(self.spatial_conv2(self.act(self.spatial_conv1(x))))
        return apply_gate(apply_gate(x, channel, self.inplace), spatial, True)
