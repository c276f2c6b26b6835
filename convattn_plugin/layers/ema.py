"""Efficient Multi-scale Attention (EMA).

Ouyang, He, Zhang, Luo, Zhang, Huang, Guo, "Efficient Multi-Scale Attention Module with
Cross-Spatial Learning", ICASSP 2023, arXiv:2305.13563. The channels are split into G groups
(the "factor", 32) that share the weights below. In each group a 1x1 branch (coordinate
attention: pooled strips along H and W, a shared 1x1 conv, two sigmoid gates, then GroupNorm)
and a 3x3 branch run in parallel; cross-spatial learning then weights each branch's map by the
softmax over channels of the *other* branch's pooled descriptor, and the sum of the two
products, ``(N*G, 1, H, W)``, gates the group's features through a sigmoid.

As the authors' code (YOLOonMe/EMA-attention-module ``EmaModule``): the layers are named
``conv1x1``, ``conv3x3`` (both with biases) and ``gn`` (GroupNorm with one group per channel of
a group); the softmax is over the ``C / G`` channels of a group, computed here in fp32 under
autocast. The layers hold the authors' weights but are applied functionally to the whole
input (grouped convolutions with the weights repeated per group; the GroupNorm by
:func:`.grouping.channel_norm`, which at a single position gives ``gn.bias`` where
``F.group_norm`` raises in training): forward hooks on ``conv1x1``, ``conv3x3``, ``gn`` do
not fire. ``groups=None`` (default) is the authors' 32 where it divides ``C`` (every ResNet /
VGG width), else the largest count below 32 that does; the authors' code fails there.
"""

from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from .grouping import channel_norm, gate_by_group, resolve_groups
from .helpers import AttentionModule, softmax_fp32
from .registry import register_attention

# FX records these functions as calls instead of tracing into their shape/grad-mode branches.
torch.fx.wrap('softmax_fp32')

__all__ = ['EfficientMultiScaleAttention']


def _repeat(bias: Optional[torch.Tensor], times: int) -> Optional[torch.Tensor]:
    return None if bias is None else bias.repeat(times)


@register_attention('ema', paper='Efficient Multi-Scale Attention (Ouyang et al., ICASSP 2023)', arxiv='2305.13563')
class EfficientMultiScaleAttention(AttentionModule):
    """Per channel group, a position gate from two cross-weighted branches (1x1 and 3x3).

    Args:
        channels: Input and output channels.
        groups: Channel groups (the authors' ``factor``); ``None``: 32 or the largest divisor
            of ``channels`` below it. An explicit value must divide ``channels``.
    """

    def __init__(
            self,
            channels: int,
            groups: Optional[int] = None,
            device=None,
            dtype=None,
    ) -> None:
        super().__init__(channels)
        dd = dict(device=device, dtype=dtype)
        self.groups = resolve_groups(channels, groups, 32, self.class_name)
        c = channels // self.groups
        self.eps = 1e-5  # GroupNorm's default, as the authors'
        self.gn = nn.GroupNorm(c, c, eps=self.eps, **dd)  # holds the affine weights; see channel_norm
        self.conv1x1 = nn.Conv2d(c, c, 1, **dd)
        self.conv3x3 = nn.Conv2d(c, c, 3, padding=1, **dd)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        n, c, h, w = x.shape
        g, cg = self.groups, self.channels // self.groups
        # The authors reshape x to (N*G, C/G, H, W) and share each layer across the groups; here
        # the shared layers run as grouped convolutions with their weights repeated per group,
        # on x as it is: the same values, no copy of x, its memory format kept.
        conv1, conv3, gn = self.conv1x1, self.conv3x3, self.gn
        # The 1x1 conv is pointwise: applied to each pooled strip, it equals the authors' conv of
        # the concatenated strips, split again (and needs no transposes).
        w1, b1 = conv1.weight.repeat(g, 1, 1, 1), _repeat(conv1.bias, g)
        gate_h = F.conv2d(x.mean(3, keepdim=True), w1, b1, groups=g).sigmoid()    # N, C, H, 1
        gate_w = F.conv2d(x.mean(2, keepdim=True), w1, b1, groups=g).sigmoid()    # N, C, 1, W
        x1 = channel_norm(x * gate_h * gate_w, gn.weight.repeat(g), gn.bias.repeat(g), self.eps)
        x2 = F.conv2d(x, conv3.weight.repeat(g, 1, 1, 1), _repeat(conv3.bias, g), padding=1, groups=g)
        # Cross-spatial learning: each branch's pooled channels, softmax-ed within the group,
        # weight the other branch's map; the weighted channels of a group are summed.
        a1 = softmax_fp32(x1.mean((2, 3)).reshape(n, g, cg), -1).reshape(n, c, 1, 1)
        a2 = softmax_fp32(x2.mean((2, 3)).reshape(n, g, cg), -1).reshape(n, c, 1, 1)
        mixed = a1 * x2 + a2 * x1
        weights = mixed if g == self.channels else mixed.reshape(n, g, cg, h, w).sum(2)   # N, G, H, W
        return gate_by_group(x, self.gate(weights).to(x.dtype), g, self.channels)

    def extra_repr(self) -> str:
        return f'{super().extra_repr()}, groups={self.groups}'
