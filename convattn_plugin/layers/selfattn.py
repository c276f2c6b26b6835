"""Self-attention over positions, as in SAGAN.

Zhang, Goodfellow, Metaxas, Odena, "Self-Attention Generative Adversarial Networks",
ICML 2019, arXiv:1805.08318 (the self-attention module of the project's design documents).
Queries and keys are 1x1 projections to C/8 channels, values to C; the weights are
``softmax`` over positions of plain dot products (no 1/sqrt(d) scale, as in the
paper); the output is ``x + gamma * attention``, ``gamma`` initialised to 0 so a new
module is the identity. Cost is quadratic in H*W.
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


@register_attention('selfattn', paper='SAGAN self-attention (Zhang et al., ICML 2019)', arxiv='1805.08318',
                    quadratic=True)
class SelfAttention2d(AttentionModule):
    """``x + gamma * softmax(q^T k) v`` over all H*W positions.

    Args:
        channels: Input and output channels.
        rd_ratio: Width of queries and keys as a fraction of ``channels`` (1/8).
        rd_channels: Width of queries and keys, overrides ``rd_ratio``.
        use_sdpa: Use ``scaled_dot_product_attention``; ``False`` spells the formula out.
        rd_rounding: ``'round'`` (default) or ``'floor'`` (the authors' ``C // 8``).
    """

    def __init__(
            self,
            channels: int,
            rd_ratio: float = 1 / 8,
            rd_channels: Optional[int] = None,
            use_sdpa: bool = True,
            rd_rounding: str = 'round',
            device=None,
            dtype=None,
    ) -> None:
        super().__init__(channels)
        dd = dict(device=device, dtype=dtype)
        rd = reduced_channels(channels, rd_ratio, rd_channels, owner=self.class_name, rounding=rd_rounding)
        self.query = nn.Conv2d(channels, rd, 1, **dd)
        self.key = nn.Conv2d(channels, rd, 1, **dd)
        self.value = nn.Conv2d(channels, channels, 1, **dd)
        self.gamma = nn.Parameter(torch.zeros(1, **dd))
        self.use_sdpa = check_flag(use_sdpa, 'use_sdpa', self.class_name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        n, c, h, w = x.shape
        q = self.query(x).flatten(2).transpose(1, 2)   # N, HW, C/8
        k = self.key(x).flatten(2).transpose(1, 2)     # N, HW, C/8
        v = self.value(x).flatten(2).transpose(1, 2)   # N, HW, C
        out = dot_product_attention(q, k, v, scale=1.0, use_sdpa=self.use_sdpa)
        # NCHW-contiguous: adding two memory layouts makes torch.export guard on strides.
        return x + self.gamma * out.transpose(1, 2).contiguous().view(n, c, h, w)
