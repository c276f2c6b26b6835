"""Dual attention: DANet's position and channel attention modules.

Fu, Liu, Tian, Li, Bao, Fang, Lu, "Dual Attention Network for Scene Segmentation",
CVPR 2019, arXiv:1809.02983 (the module of the project's design document seed 004).

* Position attention (PAM): queries and keys are 1x1 projections to C/8, values keep
  C channels, ``S = softmax(B^T C)`` over positions, ``E = x + alpha * D S^T``.
  (Seed 004 projected the values to C/8 as well, so its output could not be combined
  with the channel branch; here values keep all C channels, as in the paper.)
* Channel attention (CAM): ``X = softmax(A A^T)`` over channels of the flattened
  input, ``E = x + beta * X A`` (the paper's Eq. 3; the authors' code feeds
  ``max - energy`` to the softmax instead).

``alpha`` and ``beta`` start at zero. DANet sums the two modules' outputs; as a block
plug-in this module returns ``x + alpha * PAM + beta * CAM`` (the mean of the two
residual outputs, with the zero-initialised scales absorbing the factor 1/2), so a new
module is the identity and does not rescale the features of a pretrained backbone.
"""

from typing import Optional

import torch
import torch.nn as nn

from .attention_ops import dot_product_attention
from .checks import check_flag
from .helpers import AttentionModule, reduced_channels
from .registry import register_attention

# FX records these functions as calls instead of tracing into their shape/grad-mode branches.
torch.fx.wrap('dot_product_attention')


@register_attention('dualattn', paper='DANet position + channel attention (Fu et al., CVPR 2019)',
                    arxiv='1809.02983', quadratic=True)
class DualAttention(AttentionModule):
    """``x + alpha * position_attention(x) + beta * channel_attention(x)``.

    Args:
        channels: Input and output channels.
        rd_ratio: Width of the position branch's queries and keys (1/8 of ``channels``).
        rd_channels: That width, overrides ``rd_ratio``.
        use_sdpa: Use ``scaled_dot_product_attention``; ``False`` spells the formula out.
    """

    def __init__(
            self,
            channels: int,
            rd_ratio: float = 1 / 8,
            rd_channels: Optional[int] = None,
            use_sdpa: bool = True,
            device=None,
            dtype=None,
    ) -> None:
        super().__init__(channels)
        dd = dict(device=device, dtype=dtype)
        rd = reduced_channels(channels, rd_ratio, rd_channels, owner=self.class_name)
        self.query = nn.Conv2d(channels, rd, 1, **dd)
        self.key = nn.Conv2d(channels, rd, 1, **dd)
        self.value = nn.Conv2d(channels, channels, 1, **dd)
        self.alpha = nn.Parameter(torch.zeros(1, **dd))
        self.beta = nn.Parameter(torch.zeros(1, **dd))
        self.use_sdpa = check_flag(use_sdpa, 'use_sdpa', self.class_name)

    def position_attention(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        q = self.query(x).flatten(2).transpose(1, 2)   # N, HW, C/8
        k = self.key(x).flatten(2).transpose(1, 2)     # N, HW, C/8
        v = self.value(x).flatten(2).transpose(1, 2)   # N, HW, C
        out = dot_product_attention(q, k, v, scale=1.0, use_sdpa=self.use_sdpa)
        return out.transpose(1, 2).reshape(n, c, h, w)

    def channel_attention(self, x: torch.Tensor) -> torch.Tensor:
        a = x.flatten(2)                               # N, C, HW: channels attend to channels
        return dot_product_attention(a, a, a, scale=1.0, use_sdpa=self.use_sdpa).view_as(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return x + self.alpha * self.position_attention(x) + self.beta * self.channel_attention(x)
