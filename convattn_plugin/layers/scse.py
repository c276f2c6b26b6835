"""Concurrent spatial and channel squeeze & excitation (scSE).

Roy, Navab, Wachinger, "Concurrent Spatial and Channel 'Squeeze & Excitation' in Fully
Convolutional Networks", MICCAI 2018, arXiv:1803.02579. Two gates of the same input side by
side: cSE, SE's channel gate ``sigmoid(W2 relu(W1 avgpool(x)))`` with reduction r = 2, and
sSE, a spatial gate ``sigmoid(conv1x1_{C->1}(x))``; the two recalibrated maps are combined.

Paper and code differ in the combination. The MICCAI paper adds the two maps
(``x * g_c + x * g_s``); the authors' code (ai-med/squeeze_and_excitation,
``ChannelSpatialSELayer``) takes their element-wise maximum, the aggregation their journal
version (Roy et al., IEEE TMI 2019, arXiv:1808.08127) found best. ``combine='max'`` (default,
the authors' code) or ``'add'`` (the MICCAI paper); the weights are the same either way.
Both layers of cSE and the 1x1 conv of sSE have biases, as in the authors' code.
"""

from typing import Optional, Type

import torch
import torch.nn as nn
import torch.nn.functional as F

from .checks import check_choice
from .helpers import AttentionModule, reduced_channels
from .registry import register_attention

__all__ = ['ChannelSpatialSE']

COMBINES = ['max', 'add']


@register_attention('scse', paper='Concurrent Spatial and Channel SE (Roy et al., MICCAI 2018)', arxiv='1803.02579')
class ChannelSpatialSE(AttentionModule):
    """``max(x * g_c, x * g_s)`` (or their sum) from a channel gate and a spatial gate.

    Args:
        channels: Input and output channels.
        rd_ratio: Width of cSE's bottleneck as a fraction of ``channels`` (1/r, paper: 1/2).
        rd_channels: Width of the bottleneck, overrides ``rd_ratio``.
        act_layer: Activation in cSE's bottleneck.
        combine: ``'max'`` (default, the authors' code) or ``'add'`` (the MICCAI paper).
        rd_rounding: ``'round'`` (default) or ``'floor'`` (the authors' ``C // r``).
    """

    def __init__(
            self,
            channels: int,
            rd_ratio: float = 1 / 2,
            rd_channels: Optional[int] = None,
            act_layer: Type[nn.Module] = nn.ReLU,
            combine: str = 'max',
            rd_rounding: str = 'round',
            device=None,
            dtype=None,
    ) -> None:
        super().__init__(channels)
        dd = dict(device=device, dtype=dtype)
        rd = reduced_channels(channels, rd_ratio, rd_channels, owner=self.class_name, rounding=rd_rounding)
        self.combine = check_choice(combine, 'combine', self.class_name, COMBINES)
        self.fc1 = nn.Conv2d(channels, rd, 1, **dd)
        self.act = act_layer(inplace=True)
        self.fc2 = nn.Conv2d(rd, channels, 1, **dd)
        self.spatial = nn.Conv2d(channels, 1, 1, **dd)
        self.gate = nn.Sigmoid()

    def channel_gate(self, x: torch.Tensor) -> torch.Tensor:
        """cSE's gate, shape ``(N, C, 1, 1)``."""
        n, c = x.shape[:2]
        # The 1x1 convolutions applied as matrix products on the (N, C) descriptor (as SE's).
        s = self.act(F.linear(x.mean((2, 3)), self.fc1.weight.flatten(1), self.fc1.bias))
        return self.gate(F.linear(s, self.fc2.weight.flatten(1), self.fc2.bias).view(n, c, 1, 1))

    def spatial_gate(self, x: torch.Tensor) -> torch.Tensor:
        """sSE's gate, shape ``(N, 1, H, W)``."""
        return self.gate(self.spatial(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        by_channel = x * self.channel_gate(x)
        by_position = x * self.spatial_gate(x)
        if self.combine == 'add':
            return by_channel.add_(by_position)
        return torch.maximum(by_channel, by_position)

    def extra_repr(self) -> str:
        return f'{super().extra_repr()}, combine={self.combine!r}'
