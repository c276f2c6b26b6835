"""Squeeze-and-Excitation.

Hu, Shen, Albanie, Sun, Wu, "Squeeze-and-Excitation Networks", CVPR 2018,
arXiv:1709.01507. Global average pooling (squeeze), a two-layer bottleneck with
reduction ratio r = 16 (excitation), and a sigmoid gate per channel.
"""

from typing import Optional, Type

import torch
import torch.nn as nn
import torch.nn.functional as F

from .helpers import GatingModule, apply_gate, reduced_channels
from .registry import register_attention

# FX records these functions as calls instead of tracing into their shape/grad-mode branches.
torch.fx.wrap('apply_gate')

__all__ = ['SqueezeExcite']


@register_attention('se', paper='Squeeze-and-Excitation Networks (Hu et al., CVPR 2018)', arxiv='1709.01507')
class SqueezeExcite(GatingModule):
    """Channel gate ``sigmoid(W2 relu(W1 avgpool(x)))``.

    Args:
        channels: Input and output channels.
        rd_ratio: Bottleneck width as a fraction of ``channels`` (the paper's 1/r).
        rd_channels: Bottleneck width, overrides ``rd_ratio``.
        act_layer: Activation between the two layers.
        rd_rounding: ``'round'`` (default) or ``'floor'`` (the authors' ``C // r``).
        inplace: Multiply the gate into the input itself in inference (see
            :class:`~convattn_plugin.layers.helpers.GatingModule`): for inference only; a
            forward hook on the preceding layer then sees gated values. Default ``False``.
    """

    def __init__(
            self,
            channels: int,
            rd_ratio: float = 1 / 16,
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
        self.fc1 = nn.Conv2d(channels, rd, 1, **dd)
        self.act = act_layer(inplace=True)
        self.fc2 = nn.Conv2d(rd, channels, 1, **dd)
        self.gate = nn.Sigmoid()

    def channel_gate(self, x: torch.Tensor) -> torch.Tensor:
        """The gate, shape ``(N, C, 1, 1)``."""
        n, c = x.shape[:2]
        # The 1x1 convolutions' weights applied as matrix products on the (N, C) descriptor:
        # same values, a GEMM call instead of a convolution primitive.
        s = self.act(F.linear(x.mean((2, 3)), self.fc1.weight.flatten(1), self.fc1.bias))
        return self.gate(F.linear(s, self.fc2.weight.flatten(1), self.fc2.bias).view(n, c, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return apply_gate(x, self.channel_gate(x), self.inplace)
