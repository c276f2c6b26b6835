"""Polarized Self-Attention (PSA).

Liu, Xu, Zhang, Yang, Chen, "Polarized Self-Attention: Towards High-quality Pixel-wise
Regression", 2021, arXiv:2107.00782. Two branches that keep a high resolution in the dimension
they do not collapse. Channel-only: a 1x1 query ``C -> 1`` softmax-ed over the positions pools
a 1x1 value ``C -> C/2`` to one ``C/2`` vector, lifted back to ``C`` and squashed by a sigmoid
(a gate per channel). Spatial-only: a 1x1 query ``C -> C/2``, globally pooled, is matched with a
1x1 value ``C -> C/2`` at every position (a gate per position). The parallel form sums the two
gated maps, ``x * A_ch + x * A_sp``; the sequential form gates the channel-gated map by the
spatial gate computed from it.

The authors' code (DeLightCMU/PSA ``network/PSA.py``, classes ``PSA_p`` and ``PSA_s``) differs
from the paper's equations; ``variant='official'`` (default; what their trained models use)
follows the code, ``variant='paper'`` the equations:

* channel branch: the paper lifts ``C/2 -> C`` and applies LayerNorm before the sigmoid; the
  code's parallel form lifts with one 1x1 conv (no norm), its sequential form with a bottleneck
  ``C/2 -> C/8 -> C`` (1x1 convs with biases, LayerNorm and ReLU between);
* spatial branch: the paper softmaxes the pooled query over its channels; the code's parallel
  form instead softmaxes the product over the positions, its sequential form softmaxes the
  value over the positions, and both then apply the sigmoid.

``form='sequential'`` is the default: it is what the authors' released network uses (``PSA_s``
in every BasicBlock of their HRNet, after the first 3x3 conv, BN and ReLU). Layer names are
the authors' (``conv_q_right``, ``conv_v_right``, ``conv_up``, ``conv_q_left``, ``conv_v_left``);
widths ``C // 2`` and ``C // 8`` as theirs, at least 1. Every softmax runs in fp32 under autocast.
"""

import math
import torch
import torch.nn as nn

from .checks import check_choice
from .helpers import AttentionModule, softmax_fp32
from .registry import register_attention

# FX records these functions as calls instead of tracing into their shape/grad-mode branches.
torch.fx.wrap('softmax_fp32')

__all__ = ['PolarizedSelfAttention']

FORMS = ['sequential', 'parallel']
VARIANTS = ['official', 'paper']


@register_attention('psa', paper='Polarized Self-Attention (Liu et al., 2021)', arxiv='2107.00782')
class PolarizedSelfAttention(AttentionModule):
    """Channel-only and spatial-only self-attention gates, in sequence or in parallel.

    Args:
        channels: Input and output channels.
        form: ``'sequential'`` (default, the authors' released network) or ``'parallel'``.
        variant: ``'official'`` (default, the authors' code) or ``'paper'`` (the equations).
    """

    def __init__(
            self,
            channels: int,
            form: str = 'sequential',
            variant: str = 'official',
            device=None,
            dtype=None,
    ) -> None:
        super().__init__(channels)
        dd = dict(device=device, dtype=dtype)
        self.form = check_choice(form, 'form', self.class_name, FORMS)
        self.variant = check_choice(variant, 'variant', self.class_name, VARIANTS)
        inter = max(1, channels // 2)
        self.inter = inter
        self.conv_q_right = nn.Conv2d(channels, 1, 1, bias=False, **dd)
        self.conv_v_right = nn.Conv2d(channels, inter, 1, bias=False, **dd)
        self.ln = None
        if variant == 'paper':
            self.conv_up = nn.Conv2d(inter, channels, 1, bias=False, **dd)
            self.ln = nn.LayerNorm([channels, 1, 1], **dd)
        elif form == 'sequential':  # the authors' bottleneck, C/2 -> C/8 -> C
            bottleneck = max(1, inter // 4)
            self.conv_up = nn.Sequential(
                nn.Conv2d(inter, bottleneck, 1, **dd), nn.LayerNorm([bottleneck, 1, 1], **dd),
                nn.ReLU(inplace=True), nn.Conv2d(bottleneck, channels, 1, **dd))
        else:
            self.conv_up = nn.Conv2d(inter, channels, 1, bias=False, **dd)
        self.conv_q_left = nn.Conv2d(channels, inter, 1, bias=False, **dd)
        self.conv_v_left = nn.Conv2d(channels, inter, 1, bias=False, **dd)
        self.gate = nn.Sigmoid()
        for conv in (self.conv_q_right, self.conv_v_right, self.conv_q_left, self.conv_v_left):
            # The authors' kaiming_init(mode='fan_in'): normal, std sqrt(2 / fan_in).
            nn.init.normal_(conv.weight, 0.0, math.sqrt(2.0 / conv.in_channels))

    def channel_gate(self, x: torch.Tensor) -> torch.Tensor:
        """The channel-only branch's gate, ``(N, C, 1, 1)``."""
        n = x.shape[0]
        value = self.conv_v_right(x).flatten(2)                                  # N, C/2, HW
        query = softmax_fp32(self.conv_q_right(x).flatten(2), -1)                # N, 1, HW
        context = torch.matmul(value.to(query.dtype), query.transpose(1, 2))     # N, C/2, 1
        lifted = self.conv_up(context.view(n, self.inter, 1, 1).to(x.dtype))
        if self.ln is not None:
            lifted = self.ln(lifted)
        return self.gate(lifted)

    def spatial_gate(self, x: torch.Tensor) -> torch.Tensor:
        """The spatial-only branch's gate, ``(N, 1, H, W)``."""
        n, _, h, w = x.shape
        query = self.conv_q_left(x).mean((2, 3)).view(n, 1, self.inter)         # N, 1, C/2
        value = self.conv_v_left(x).flatten(2)                                   # N, C/2, HW
        if self.variant == 'paper':
            query = softmax_fp32(query, -1)
            context = torch.matmul(query, value.to(query.dtype))
        elif self.form == 'parallel':
            context = softmax_fp32(torch.matmul(query, value), -1)
        else:
            value = softmax_fp32(value, -1)
            context = torch.matmul(query.to(value.dtype), value)
        return self.gate(context.view(n, 1, h, w)).to(x.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        by_channel = x * self.channel_gate(x)
        if self.form == 'parallel':
            return by_channel + x * self.spatial_gate(x)
        return by_channel * self.spatial_gate(by_channel)

    def extra_repr(self) -> str:
        return f'{super().extra_repr()}, form={self.form!r}, variant={self.variant!r}'
