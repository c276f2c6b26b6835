"""Convolutional gate: ``x * sigmoid(conv1x1(x))``.

The plain "convolutional attention module" of the project's original design: one 1x1
convolution produces a per-position, per-channel gate. (That design also built a second
1x1 convolution that its forward never used; it is left out.)
In the literature this is a sigmoid-gated (GLU-style) unit, as in Dauphin et al.,
"Language Modeling with Gated Convolutional Networks" (arXiv:1612.08083).
"""

import torch
import torch.nn as nn

from .checks import check_flag
from .helpers import GatingModule, apply_gate
from .registry import register_attention

# FX records these functions as calls instead of tracing into their shape/grad-mode branches.
torch.fx.wrap('apply_gate')


@register_attention(
    'convgate', paper="Gated convolution, sigmoid(conv1x1(x)) (Dauphin et al., 2017); the project's original attention module",
    arxiv='1612.08083')
class ConvGate(GatingModule):
    """Per-position, per-channel sigmoid gate from one 1x1 convolution.

    Args:
        channels: Input and output channels.
        bias: Whether the 1x1 convolution has a bias.
        inplace: Change the input itself in inference instead of allocating the output,
            for inference only (as :class:`~convattn_plugin.layers.SqueezeExcite`'s).
            Default ``False``.
    """

    def __init__(self, channels: int, bias: bool = True, inplace: bool = False, device=None, dtype=None) -> None:
        super().__init__(channels, inplace)
        check_flag(bias, 'bias', self.class_name)
        self.conv = nn.Conv2d(channels, channels, 1, bias=bias, device=device, dtype=dtype)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return apply_gate(x, self.gate(self.conv(x)), self.inplace)
