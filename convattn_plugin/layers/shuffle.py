"""Shuffle Attention (SA).

Zhang, Yang, "SA-Net: Shuffle Attention for Deep Convolutional Neural Networks", ICASSP 2021,
arXiv:2102.00240. The channels are split into G groups (64) and each group in two halves: the
first half is gated per channel by ``sigmoid(w_c * avgpool(x) + b_c)``, the second per position
by ``sigmoid(w_s * GN(x) + b_s)`` (GroupNorm with one group per channel); the halves are
concatenated and a channel shuffle with 2 groups mixes the information of the two branches.

As the authors' code (wofmanaf/SA-Net ``sa_layer``): ``cweight`` / ``sweight`` start at 0,
``cbias`` / ``sbias`` at 1 (a new module gates by ``sigmoid(1)``), each of shape
``(1, C / 2G, 1, 1)`` and shared by the groups, and ``gn`` holds GroupNorm's own affine
parameters (eps 1e-5). ``groups=None`` (default) is the authors' 64 where ``C`` is a multiple
of 128 (every ResNet-50 width), else the largest count below 64 with ``C`` a multiple of
``2 * groups`` (32 for ResNet-18's 64 channels). For an odd ``C`` (no even split exists) there
is one group whose first half is the larger, ``(C + 1) / 2`` channels (at ``C = 1`` there is no
spatial half), and the shuffle interleaves halves of ``(C + 1) / 2`` and ``(C - 1) / 2``.
"""

from typing import List, Optional

import torch
import torch.nn as nn

from .checks import check_number
from .grouping import channel_norm, like_input_layout, resolve_groups
from .helpers import AttentionModule
from .registry import register_attention

# FX records these functions as calls instead of tracing into their shape/grad-mode branches.
torch.fx.wrap('like_input_layout')

__all__ = ['ShuffleAttention']


def _interleave(first: int, second: int) -> List[int]:
    """Channel order of a 2-group shuffle of halves of sizes ``first >= second``."""
    order: List[int] = []
    for i in range(first):
        order.append(i)
        if i < second:
            order.append(first + i)
    return order


@register_attention('shuffle', paper='SA-Net: Shuffle Attention (Zhang and Yang, ICASSP 2021)', arxiv='2102.00240')
class ShuffleAttention(AttentionModule):
    """Per group, a channel gate on one half and a spatial gate on the other, then a shuffle.

    Args:
        channels: Input and output channels.
        groups: Channel groups; ``None``: 64 (the authors') or the largest count below it
            with ``channels`` a multiple of ``2 * groups``. An explicit value must have
            ``channels`` divisible by ``2 * groups``.
        eps: Epsilon of the GroupNorm (torch's and the authors' 1e-5).
    """

    def __init__(
            self,
            channels: int,
            groups: Optional[int] = None,
            eps: float = 1e-5,
            device=None,
            dtype=None,
    ) -> None:
        super().__init__(channels)
        dd = dict(device=device, dtype=dtype)
        if groups is None and channels % 2:
            self.groups = 1
        else:
            self.groups = resolve_groups(channels, groups, 64, self.class_name, multiple=2)
        per_group = channels // self.groups
        self.split = [per_group - per_group // 2, per_group // 2]
        c0, c1 = self.split
        self.cweight = nn.Parameter(torch.zeros(1, c0, 1, 1, **dd))
        self.cbias = nn.Parameter(torch.ones(1, c0, 1, 1, **dd))
        self.register_parameter('sweight', nn.Parameter(torch.zeros(1, c1, 1, 1, **dd)) if c1 else None)
        self.register_parameter('sbias', nn.Parameter(torch.ones(1, c1, 1, 1, **dd)) if c1 else None)
        self.eps = check_number(eps, 'eps', self.class_name)
        self.gn = nn.GroupNorm(c1, c1, eps=self.eps, **dd) if c1 else None
        self.gate = nn.Sigmoid()
        # An odd C interleaves halves of unequal size: by an index, as reshapes cannot.
        order = _interleave((channels + 1) // 2, channels // 2)
        self.register_buffer('order', torch.tensor(order, device=device), persistent=False)
        self.even = channels % 2 == 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        n, c, h, w = x.shape
        xg = x.reshape(n, self.groups, c // self.groups, h, w)   # a view in either layout
        x0 = xg[:, :, :self.split[0]]
        xn = x0 * self.gate(self.cweight.unsqueeze(0) * x0.mean((3, 4), keepdim=True) + self.cbias.unsqueeze(0))
        gn, sweight, sbias = self.gn, self.sweight, self.sbias
        if gn is not None and sweight is not None and sbias is not None:
            x1 = xg[:, :, self.split[0]:]
            normed = channel_norm(x1, gn.weight, gn.bias, self.eps)
            xs = x1 * self.gate(sweight.unsqueeze(0) * normed + sbias.unsqueeze(0))
            out = torch.cat([xn, xs], dim=2)
        else:  # C = 1: no spatial half
            out = xn
        out = out.reshape(n, c, h, w)
        if self.even:   # the authors' channel shuffle with 2 groups
            out = out.reshape(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)
        else:
            out = out.index_select(1, self.order)
        return like_input_layout(out, x)

    def extra_repr(self) -> str:
        return f'{super().extra_repr()}, groups={self.groups}'
