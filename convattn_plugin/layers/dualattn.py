"""Dual attention: DANet's position and channel attention modules.

Fu, Liu, Tian, Li, Bao, Fang, Lu, "Dual Attention Network for Scene Segmentation",
CVPR 2019, arXiv:1809.02983 (the dual-attention module of the project's design documents).

* Position attention (PAM): queries and keys are 1x1 projections to C/8, values keep
  C channels, ``S = softmax(B^T C)`` over positions, ``E = x + alpha * D S^T``.
  (The design document projected the values to C/8 as well, so its output could not be
  combined with the channel branch; here values keep all C channels, as in the paper.)
* Channel attention (CAM), two forms:

  - ``form='paper'`` (default): ``X = softmax(A A^T)`` over channels of the flattened
    input (the paper's Eq. 3), ``E = x + beta * X A``.
  - ``form='official'``: the authors' code feeds ``rowmax(A A^T) - A A^T`` to the
    softmax; a softmax does not change when a row's constant is added, so that is
    ``softmax(-A A^T)``: a channel attends most to the channels least like it.
    Computed here as ``softmax(-A A^T)`` (the same values, one subtraction less).

Widths: C/8 rounded to nearest (default) or ``rd_rounding='floor'``, the authors' ``C // 8``.

``alpha`` and ``beta`` start at zero. DANet sums the two modules' outputs; as a block
plug-in this module returns ``x + alpha * PAM + beta * CAM`` (the mean of the two
residual outputs, with the zero-initialised scales absorbing the factor 1/2), so a new
module is the identity and does not rescale the features of a pretrained backbone.
"""

from typing import Optional

import torch
import torch.nn as nn

from .attention_ops import dot_product_attention
from .checks import check_choice, check_flag
from .helpers import AttentionModule, reduced_channels
from .registry import register_attention

# FX records these functions as calls instead of tracing into their shape/grad-mode branches.
torch.fx.wrap('dot_product_attention')


DANET_FORMS = ['paper', 'official']


@register_attention('dualattn', paper='DANet position + channel attention (Fu et al., CVPR 2019)',
                    arxiv='1809.02983', quadratic=True)
class DualAttention(AttentionModule):
    """``x + alpha * position_attention(x) + beta * channel_attention(x)``.

    Args:
        channels: Input and output channels.
        rd_ratio: Width of the position branch's queries and keys (1/8 of ``channels``).
        rd_channels: That width, overrides ``rd_ratio``.
        form: Channel attention as in the paper, ``softmax(A A^T)`` (default: the
            published method), or ``'official'``, the authors' ``softmax(-A A^T)``
            (for their weights).
        rd_rounding: ``'round'`` (default) or ``'floor'`` (the authors' ``C // 8``).
        use_sdpa: Use ``scaled_dot_product_attention``; ``False`` spells the formula out.
    """

    def __init__(
            self,
            channels: int,
            rd_ratio: float = 1 / 8,
            rd_channels: Optional[int] = None,
            form: str = 'paper',
            rd_rounding: str = 'round',
            use_sdpa: bool = True,
            device=None,
            dtype=None,
    ) -> None:
        super().__init__(channels)
        dd = dict(device=device, dtype=dtype)
        rd = reduced_channels(channels, rd_ratio, rd_channels, owner=self.class_name, rounding=rd_rounding)
        self.form = check_choice(form, 'form', self.class_name, DANET_FORMS)
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
        # NCHW like the channel branch: adding two layouts makes torch.export guard on strides.
        return out.transpose(1, 2).contiguous().view(n, c, h, w)

    def channel_attention(self, x: torch.Tensor) -> torch.Tensor:
        a = x.flatten(2)                               # N, C, HW: channels attend to channels
        # The authors' softmax(rowmax(E) - E) is softmax(-E): a scale of -1 on the scores.
        scale = -1.0 if self.form == 'official' else 1.0
        return dot_product_attention(a, a, a, scale=scale, use_sdpa=self.use_sdpa).view_as(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return x + self.alpha * self.position_attention(x) + self.beta * self.channel_attention(x)

    def extra_repr(self) -> str:
        return f'{super().extra_repr()}, form={self.form!r}'
