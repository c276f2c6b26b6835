"""Spatial Group-wise Enhance (SGE).

Li, Hu, Yang, "Spatial Group-wise Enhance: Improving Semantic Feature Learning in
Convolutional Networks", 2019, arXiv:1905.09646. The channels are split into G groups (64);
in each group the similarity of every position's feature vector to the group's mean vector,
``c_i = sum_k x_ik * mean_j(x_jk)``, is normalised over the positions (zero mean, unit std),
scaled and shifted by a learnt ``(gamma, beta)`` per group (initialised to 0 and 1, so a new
module gates every position by ``sigmoid(1)``) and gates the group's features at each position.

As the authors' code (implus/PytorchInsight ``SpatialGroupEnhance``): the std is the unbiased
one plus ``eps = 1e-5`` (added to the std, not to the variance), the parameters are named
``weight`` and ``bias`` and have shape ``(1, G, 1, 1)``. On a 1x1 map the centred value is 0
and the authors' unbiased std is 0/0; here the divisor is then 1, so the gate is
``sigmoid(beta)`` instead of NaN. ``groups=None`` (default) is the authors' 64 where it
divides ``C`` (every ResNet / VGG width), else the largest count below 64 that does.
"""

from typing import Optional

import torch
import torch.nn as nn

from .checks import check_number
from .grouping import resolve_groups
from .helpers import GatingModule, apply_gate
from .registry import register_attention
from .simam import other_positions

# FX records these functions as calls instead of tracing into their shape/grad-mode branches.
torch.fx.wrap('apply_gate')
torch.fx.wrap('other_positions')

__all__ = ['SpatialGroupEnhance']


@register_attention('sge', paper='Spatial Group-wise Enhance (Li et al., 2019)', arxiv='1905.09646')
class SpatialGroupEnhance(GatingModule):
    """Per group, a position gate from the normalised similarity to the group's mean feature.

    Args:
        channels: Input and output channels.
        groups: Channel groups; ``None``: 64 (the authors') or the largest divisor of
            ``channels`` below it. An explicit value must divide ``channels``.
        eps: Added to the std (the authors' 1e-5).
        inplace: Multiply the gate into the input itself in inference, for inference
            only (as :class:`~convattn_plugin.layers.SqueezeExcite`'s). Default ``False``.
    """

    def __init__(
            self,
            channels: int,
            groups: Optional[int] = None,
            eps: float = 1e-5,
            inplace: bool = False,
            device=None,
            dtype=None,
    ) -> None:
        super().__init__(channels, inplace)
        self.groups = resolve_groups(channels, groups, 64, self.class_name)
        self.eps = check_number(eps, 'eps', self.class_name)
        dd = dict(device=device, dtype=dtype)
        self.weight = nn.Parameter(torch.zeros(1, self.groups, 1, 1, **dd))
        self.bias = nn.Parameter(torch.ones(1, self.groups, 1, 1, **dd))
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        n, c, h, w = x.shape
        if self.groups == self.channels:  # one channel per group: no group axis (export would guard on it)
            sim = x * x.mean((2, 3), keepdim=True)
            return apply_gate(x, self._gate(sim), self.inplace)
        # (N, G, C/G, H, W) is a view in both NCHW and channels-last layouts: no copy of x.
        xg = x.reshape(n, self.groups, c // self.groups, h, w)
        sim = (xg * xg.mean((3, 4), keepdim=True)).sum(2)                    # N, G, H, W
        out = apply_gate(xg, self._gate(sim).unsqueeze(2), self.inplace)
        return out.reshape(n, c, h, w)

    def _gate(self, sim: torch.Tensor) -> torch.Tensor:
        """``sigmoid(gamma * normalised(sim) + beta)`` of the similarities ``(N, G, H, W)``."""
        t = sim - sim.mean((2, 3), keepdim=True)
        var = t.square().sum((2, 3), keepdim=True) / other_positions(sim)
        # sqrt(var), with a finite gradient where var == 0 (a constant map): sqrt's is infinite.
        positive = var > 0
        std = torch.where(positive, torch.where(positive, var, torch.ones_like(var)).sqrt(), var) + self.eps
        return self.gate(t / std * self.weight + self.bias)

    def extra_repr(self) -> str:
        return f'{super().extra_repr()}, groups={self.groups}'
