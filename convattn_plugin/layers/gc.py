"""Global Context block.

Cao, Xu, Lin, Wei, Hu, "GCNet: Non-local Networks Meet Squeeze-Excitation Networks and
Beyond", ICCVW 2019, arXiv:1904.11492. Attention pooling over positions
(``softmax(conv1x1(x))``, one query-independent map) gives a global context vector; a
bottleneck transform (C -> C/r, LayerNorm, ReLU, -> C) is added to every position.
Defaults: r = 16, the last convolution initialised to zero (identity at start).
"""

from typing import Optional, Type

import torch
import torch.nn as nn

from .gate_functions import fused_backward_applies
from .helpers import GatingModule, add_residual, reduced_channels, softmax_fp32
from .registry import register_attention

# FX records these functions as calls instead of tracing into their shape/grad-mode branches.
torch.fx.wrap('add_residual')
torch.fx.wrap('softmax_fp32')


class PointwiseConvToOne(nn.Conv2d):
    """``nn.Conv2d(channels, 1, 1)`` computed as one batched matrix product.

    The same parameters, state-dict keys, initialisation and hooks as the convolution; on a
    CPU oneDNN's convolution to a single channel is several times slower than the product
    (GC's "attn ms" column of ``tools/benchmark.py --models resnet50+gc``, before and after,
    is in the README). Contiguous and channels-last inputs are read in place (``flatten(2)``
    is a view of either).
    """

    def __init__(self, channels: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__(channels, 1, 1, bias=bias, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        weight = self.weight.view(1, 1, c).expand(n, 1, c)
        bias = self.bias
        if bias is None:
            return torch.bmm(weight, x.flatten(2)).view(n, 1, h, w)
        return torch.baddbmm(bias.view(1, 1, 1).expand(n, 1, h * w), weight, x.flatten(2)).view(n, 1, h, w)


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
            if fused_backward_applies(x):
                # Eager fp32 training: the pooling's backward writes x's gradient in one pass.
                context = _AttentionPooling.apply(x, self.conv_attn.weight, self.conv_attn.bias, self.conv_attn)
                return add_residual(x, self.transform(context), self.inplace)
        n, c, h, w = x.shape
        logits = self.conv_attn(x).reshape(n, 1, h * w)
        weights = softmax_fp32(logits, -1).to(x.dtype)
        context = torch.matmul(x.reshape(n, c, h * w), weights.transpose(1, 2)).view(n, c, 1, 1)
        return add_residual(x, self.transform(context), self.inplace)


class _AttentionPooling(torch.autograd.Function):
    """``sum_j softmax(w . x_j + b)_j x_j``, shape ``(N, C, 1, 1)``, with a one-pass backward for ``x``.

    Autograd writes two feature-map gradients for ``x`` (through the weighted sum and through
    the 1x1 convolution) and adds them; both are outer products, so one batched product of
    rank 2 writes their sum here. ``conv`` is the module's ``conv_attn`` (its hooks fire);
    ``weight`` and ``bias`` are its parameters, passed to receive their gradients. Values
    and gradients equal the plain form (``torch.autograd.gradcheck`` in float64,
    tests/test_layers_fidelity.py). Works on contiguous and channels-last inputs, and
    returns ``x``'s gradient in ``x``'s layout.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor],
                conv: nn.Module) -> torch.Tensor:
        n, c = x.shape[:2]
        flat = x.flatten(2)                                   # (N, C, HW), a view in either layout
        weights = torch.softmax(conv(x).view(n, 1, -1), -1)   # (N, 1, HW); conv's hooks fire
        ctx.save_for_backward(x, weight, weights)
        return torch.bmm(flat, weights.transpose(1, 2)).view(n, c, 1, 1)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, weight, weights = ctx.saved_tensors
        n, c, h, w = x.shape
        flat = x.flatten(2)
        grad_context = grad.reshape(n, 1, c)
        grad_weights = torch.bmm(grad_context, flat)                        # (N, 1, HW)
        grad_logits = weights * (grad_weights - (grad_weights * weights).sum(-1, keepdim=True))
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            # d/dx = grad_context (x) weights + conv weight (x) grad_logits: one rank-2 product.
            left = torch.cat([grad_context, weight.view(1, 1, c).expand(n, 1, c)], 1)   # (N, 2, C)
            right = torch.cat([weights, grad_logits], 1)                                # (N, 2, HW)
            if x.is_contiguous():
                grad_x = torch.bmm(left.transpose(1, 2), right).view(n, c, h, w)
            else:  # channels-last (or another layout): write (N, HW, C), viewed as NCHW
                grad_x = torch.bmm(right.transpose(1, 2), left).view(n, h, w, c).permute(0, 3, 1, 2)
        if ctx.needs_input_grad[1]:
            grad_weight = torch.bmm(grad_logits, flat.transpose(1, 2)).sum(0).view_as(weight)
        if ctx.needs_input_grad[2]:  # False when there is no bias
            grad_bias = grad_logits.sum().view(1)
        return grad_x, grad_weight, grad_bias, None
