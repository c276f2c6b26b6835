"""Global Context block.

Cao, Xu, Lin, Wei, Hu, "GCNet: Non-local Networks Meet Squeeze-Excitation Networks and
Beyond", ICCVW 2019, arXiv:1904.11492. Attention pooling over positions
(``softmax(conv1x1(x))``, one query-independent map) gives a global context vector; a
bottleneck transform (C -> C/r, LayerNorm, ReLU, -> C) is added to every position.
Defaults: r = 16, the last convolution initialised to zero (identity at start).

Fast paths (:mod:`~convattn_plugin.layers.fast_paths`, all off under ``plain_forward()``): the
1x1 convolution to one channel as a batched product (``PointwiseConvToOne``), and in eager
training the attention pooling's one-pass backward.
"""

from typing import Optional, Type

import torch
import torch.nn as nn

from .fast_paths import PointwiseConvToOne, attention_pooling
from .helpers import GatingModule, add_residual, reduced_channels, softmax_fp32
from .registry import register_attention

# FX records these functions as calls instead of tracing into their shape/grad-mode branches.
torch.fx.wrap('add_residual')
torch.fx.wrap('softmax_fp32')


@register_attention('gc', paper='GCNet global context block (Cao et al., ICCVW 2019)', arxiv='1904.11492')
class GlobalContext(GatingModule):
    """``x + transform(sum_j softmax(conv(x))_j x_j)``.

    Args:
        channels: Input and output channels.
        rd_ratio: Bottleneck width as a fraction of ``channels`` (1/r).
        rd_channels: Bottleneck width, overrides ``rd_ratio``.
        act_layer: Activation inside the bottleneck.
        rd_rounding: ``'round'`` (default) or ``'floor'`` (the authors' ``int(C * ratio)``).
        inplace: Change the input itself in inference instead of allocating the output,
            for inference only (as :class:`~convattn_plugin.layers.SqueezeExcite`'s).
            Default ``False``.
    """

    def __init__(
            self,
            channels: int,
            rd_ratio: float = 1 / 16,
            rd_channels: Optional[int] = None,
            act_layer: Type[nn.Module] = nn.ReLU,
            rd_rounding: str = 'round',
            inplace: bool = False,
            device=None,
            dtype=None,
    ) -> None:
        super().__init__(channels, inplace)
        dd = dict(device=device, dtype=dtype)
        rd = reduced_channels(channels, rd_ratio, rd_channels, owner=self.class_name, rounding=rd_rounding)
        self.conv_attn = PointwiseConvToOne(channels, **dd)
        self.transform = nn.Sequential(
            nn.Conv2d(channels, rd, 1, **dd),
            nn.LayerNorm([rd, 1, 1], **dd),
            act_layer(inplace=True),
            nn.Conv2d(rd, channels, 1, **dd),
        )
        nn.init.zeros_(self.transform[-1].weight)
        nn.init.zeros_(self.transform[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        if not torch.jit.is_scripting():
            # Eager fp32/fp64 training: the pooling's backward writes x's gradient in one pass.
            context = attention_pooling(x, self.conv_attn)
            if context is not None:
                return add_residual(x, self.transform(context), self.inplace)
        n, c, h, w = x.shape
        logits = self.conv_attn(x).reshape(n, 1, h * w)
        weights = softmax_fp32(logits, -1).to(x.dtype)
        context = torch.matmul(x.reshape(n, c, h * w), weights.transpose(1, 2)).view(n, c, 1, 1)
        return add_residual(x, self.transform(context), self.inplace)
