"""Convolutional Block Attention Module.

Woo, Park, Lee, Kweon, "CBAM: Convolutional Block Attention Module", ECCV 2018,
arXiv:1807.06521. A channel gate, ``sigmoid(MLP(avgpool(x)) + MLP(maxpool(x)))`` with
one shared bottleneck MLP (r = 16), followed by a spatial gate,
``sigmoid(conv7x7([mean_c(x'); max_c(x')]))``, applied in that order.

As in the authors' code (and timm's), the 7x7 convolution is followed by BatchNorm.
"""

from typing import Optional, Type

import torch
import torch.nn as nn
import torch.nn.functional as F

from .checks import MAX_KERNEL_SIZE, check_flag, check_int
from .helpers import GatingModule, apply_gate, GateBatchNorm2d, reduced_channels
from .registry import register_attention

# FX records these functions as calls instead of tracing into their shape/grad-mode branches.
torch.fx.wrap('apply_gate')

__all__ = ['CBAM', 'SpatialGate', 'channel_max']


@torch.fx.wrap
def channel_max(x: torch.Tensor) -> torch.Tensor:
    """``x.amax(1, keepdim=True)``; on small maps, as maxima of channel halves.

    A reduction over the channel axis of an NCHW tensor is slow on CPUs when H*W is
    small (at 7x7, 6x slower than the mean); there, ``log2(C)`` element-wise maxima of
    the two halves read contiguous memory and give the same values. On larger maps
    ``amax`` is as fast and allocates less. Under autograd ``amax`` is always used: the
    halves would be saved for backward. Under ``torch.export`` / ``torch.compile``
    ``amax`` is used too: the test on H*W would become a guard on the traced sizes.
    """
    if not torch.jit.is_scripting():
        if torch.compiler.is_compiling():
            return x.amax(1, keepdim=True)
    c = x.shape[1]
    # Largest H*W with pairwise maxima: 64 (7x7 and 8x8 maps, ResNet's last stage).
    if (c == 1 or x.shape[2] * x.shape[3] > 64 or not x.is_contiguous()
            or (torch.is_grad_enabled() and x.requires_grad)):
        return x.amax(1, keepdim=True)
    while c > 1:
        h = (c + 1) // 2  # for odd c the halves share the middle channel: max is idempotent
        x = torch.maximum(x[:, :h], x[:, c - h:])
        c = h
    return x


class SpatialGate(nn.Module):
    """CBAM's spatial gate: ``sigmoid(BN(conv_kxk([mean_c; max_c])))`` per position."""

    def __init__(self, kernel_size: int = 7, device=None, dtype=None) -> None:
        super().__init__()
        check_int(kernel_size, 'kernel_size', type(self).__name__, 1, MAX_KERNEL_SIZE, odd=True)
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False, device=device, dtype=dtype)
        self.bn = GateBatchNorm2d(1, device=device, dtype=dtype)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([x.mean(1, keepdim=True), channel_max(x)], dim=1)
        return self.gate(self.bn(self.conv(pooled)))


@register_attention('cbam', paper='CBAM (Woo et al., ECCV 2018)', arxiv='1807.06521')
class CBAM(GatingModule):
    """Channel gate then spatial gate.

    Args:
        channels: Input and output channels.
        rd_ratio: Width of the shared MLP as a fraction of ``channels`` (1/r).
        rd_channels: Width of the shared MLP, overrides ``rd_ratio``.
        kernel_size: Kernel of the spatial gate's convolution.
        act_layer: Activation inside the MLP.
        mlp_bias: Whether the MLP's layers have biases (the paper's formula has none).
        inplace: Multiply the gates into the input itself in inference, for inference
            only (as :class:`~convattn_plugin.layers.SqueezeExcite`'s). Default ``False``;
            the intermediate channel-gated map is this module's own and is always
            reused in inference.
    """

    def __init__(
            self,
            channels: int,
            rd_ratio: float = 1 / 16,
            rd_channels: Optional[int] = None,
            kernel_size: int = 7,
            act_layer: Type[nn.Module] = nn.ReLU,
            mlp_bias: bool = False,
            inplace: bool = False,
            device=None,
            dtype=None,
    ) -> None:
        super().__init__(channels, inplace)
        dd = dict(device=device, dtype=dtype)
        rd = reduced_channels(channels, rd_ratio, rd_channels, owner=self.class_name)
        check_flag(mlp_bias, 'mlp_bias', self.class_name)
        check_int(kernel_size, 'kernel_size', self.class_name, 1, MAX_KERNEL_SIZE, odd=True)
        self.fc1 = nn.Conv2d(channels, rd, 1, bias=mlp_bias, **dd)
        self.act = act_layer(inplace=True)
        self.fc2 = nn.Conv2d(rd, channels, 1, bias=mlp_bias, **dd)
        self.gate = nn.Sigmoid()
        self.spatial = SpatialGate(kernel_size, **dd)

    def channel_gate(self, x: torch.Tensor) -> torch.Tensor:
        """The channel gate, shape ``(N, C, 1, 1)``."""
        n, c = x.shape[:2]
        return self.gate((self._mlp(x.mean((2, 3))) + self._mlp(x.amax((2, 3)))).view(n, c, 1, 1))

    def _mlp(self, pooled: torch.Tensor) -> torch.Tensor:
        # The 1x1 convolutions' weights applied as matrix products on an (N, C) descriptor:
        # the same values, a GEMM call instead of a convolution primitive. (Stacking both
        # descriptors into one call is no faster and keeps more memory for backward.)
        hidden = self.act(F.linear(pooled, self.fc1.weight.flatten(1), self.fc1.bias))
        return F.linear(hidden, self.fc2.weight.flatten(1), self.fc2.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        x = apply_gate(x, self.channel_gate(x), self.inplace)
        # x is now this module's own tensor (or the input, if it may be overwritten):
        # in inference the spatial gate is multiplied into it in place.
        return apply_gate(x, self.spatial(x), inplace=True)
