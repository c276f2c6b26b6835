"""Global Attention Mechanism (GAM).

Liu, Shao, Hoffmann, "Global Attention Mechanism: Retain Information to Enhance
Channel-Spatial Interactions", 2021, arXiv:2112.05561. CBAM's order (channel, then spatial)
with submodules that pool nothing away: the channel submodule permutes the input to
``(N, H, W, C)``, runs a two-layer MLP over the channels at every position (reduction r = 4)
and permutes back, ``M_c = sigmoid(MLP(x))``; the spatial submodule is two 7x7 convolutions
``C -> C/r -> C``, each followed by BN (the first also by ReLU), ``M_s = sigmoid(...)``.
``x2 = x * M_c(x)``, output ``x2 * M_s(x2)``.

The authors published no code; this follows the paper's equations and figures. The MLP over
the channels of each position is a 1x1 convolution (the same weights as ``nn.Linear``, without
the permutes). Circulating unofficial code omits the channel submodule's sigmoid; the paper has
it, and so does this layer. The paper's 7x7 convolutions cost ``2 * 49 * C^2 / r`` weights
(25 M at C = 2048); for ResNet-50 it uses group convolution with channel shuffle instead,
without giving the group count. Here ``groups=None`` gives one group per 64 input channels
(1 up to C = 127, 32 at C = 2048: this project's choice, which keeps a ResNet-152 with GAM in
every block at 162 M parameters instead of 1.38 G, a ResNet-50 at 59 M instead of 529 M), with
a channel shuffle between the two convolutions; ``groups=1`` is the paper's figure. An explicit ``groups`` must divide both ``C``
and ``C / r``.
"""

from typing import Optional

import torch
import torch.nn as nn

from .checks import MAX_KERNEL_SIZE, check_int
from .helpers import AttentionModule, GateBatchNorm2d, reduced_channels
from .registry import register_attention

__all__ = ['GlobalAttentionMechanism']

CHANNELS_PER_GROUP = 64


def _default_groups(channels: int, rd: int) -> int:
    """Largest divisor of both widths up to one group per 64 input channels."""
    most = max(1, channels // CHANNELS_PER_GROUP)
    return next(g for g in range(most, 0, -1) if channels % g == 0 and rd % g == 0)


@register_attention('gam', paper='Global Attention Mechanism (Liu et al., 2021)', arxiv='2112.05561')
class GlobalAttentionMechanism(AttentionModule):
    """A per-position channel MLP gate, then a two-convolution spatial gate, both sigmoids.

    Args:
        channels: Input and output channels.
        rd_ratio: Width of the MLP and of the convolutions' middle as a fraction of ``channels``
            (the paper's 1/r = 1/4).
        rd_channels: That width, overrides ``rd_ratio``.
        kernel_size: Kernel of the spatial convolutions (the paper's 7).
        groups: Groups of the spatial convolutions; ``None``: one per 64 input channels
            (see the module docstring); 1 is the paper's figure.
        rd_rounding: ``'round'`` (default) or ``'floor'``.
    """

    def __init__(
            self,
            channels: int,
            rd_ratio: float = 1 / 4,
            rd_channels: Optional[int] = None,
            kernel_size: int = 7,
            groups: Optional[int] = None,
            rd_rounding: str = 'round',
            device=None,
            dtype=None,
    ) -> None:
        super().__init__(channels)
        owner = self.class_name
        dd = dict(device=device, dtype=dtype)
        rd = reduced_channels(channels, rd_ratio, rd_channels, owner=owner, rounding=rd_rounding)
        check_int(kernel_size, 'kernel_size', owner, 1, MAX_KERNEL_SIZE, odd=True)
        if groups is None:
            groups = _default_groups(channels, rd)
        check_int(groups, 'groups', owner, 1, channels)
        if channels % groups or rd % groups:
            raise ValueError(f'{owner}: groups ({groups}) must divide both channels ({channels}) and the reduced '
                             f'width ({rd}); pass groups=None for a count that does')
        self.groups = groups
        self.rd = rd
        # The channel submodule: an MLP over the channels of each position (1x1 convolutions).
        self.fc1 = nn.Conv2d(channels, rd, 1, **dd)
        self.act = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(rd, channels, 1, **dd)
        # The spatial submodule: conv, BN, ReLU, (shuffle), conv, BN; no biases before the BNs.
        pad = kernel_size // 2
        self.conv1 = nn.Conv2d(channels, rd, kernel_size, padding=pad, groups=groups, bias=False, **dd)
        self.bn1 = GateBatchNorm2d(rd, **dd)
        self.conv2 = nn.Conv2d(rd, channels, kernel_size, padding=pad, groups=groups, bias=False, **dd)
        self.bn2 = GateBatchNorm2d(channels, **dd)
        self.gate = nn.Sigmoid()

    def channel_gate(self, x: torch.Tensor) -> torch.Tensor:
        """``M_c``, shape ``(N, C, H, W)``."""
        return self.gate(self.fc2(self.act(self.fc1(x))))

    def spatial_gate(self, x: torch.Tensor) -> torch.Tensor:
        """``M_s``, shape ``(N, C, H, W)``."""
        y = self.act(self.bn1(self.conv1(x)))
        if self.groups > 1:  # channel shuffle, so that the second grouped conv mixes the groups
            n, _, h, w = y.shape
            y = y.reshape(n, self.groups, self.rd // self.groups, h, w).transpose(1, 2).reshape(n, self.rd, h, w)
        return self.gate(self.bn2(self.conv2(y)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        x2 = x * self.channel_gate(x)
        return x2 * self.spatial_gate(x2)

    def extra_repr(self) -> str:
        return f'{super().extra_repr()}, groups={self.groups}'
