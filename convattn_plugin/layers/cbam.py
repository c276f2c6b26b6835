"""Convolutional Block Attention Module.

Woo, Park, Lee, Kweon, "CBAM: Convolutional Block Attention Module", ECCV 2018,
arXiv:1807.06521. A channel gate, ``sigmoid(MLP(avgpool(x)) + MLP(maxpool(x)))`` with
one shared bottleneck MLP (r = 16), followed by a spatial gate,
``sigmoid(conv7x7([mean_c(x'); max_c(x')]))``, applied in that order.

As in the authors' code (and timm's), the 7x7 convolution is followed by BatchNorm.
What the authors' released weights need, as options (defaults follow the paper and torch):

* ``mlp_bias``: the paper's MLP ``W1 relu(W0 p)`` has no biases (default ``False``);
  the authors' ``nn.Linear`` layers do (``True``).
* ``pool_order``: the paper feeds ``[mean; max]`` to the 7x7 convolution (default
  ``'mean_max'``); the authors' code ``[max; mean]`` (``'max_mean'``), which swaps the two
  input channels of the convolution's weight.
* ``bn_momentum`` / ``bn_eps`` of the spatial gate's BN: the authors use 0.01 / 1e-5;
  default 0.1 / 1e-5 (torch's and timm's; the momentum only matters in training).
* ``rd_rounding``: width ``C/r`` rounded to nearest (default) or the authors' ``C // r``
  (``'floor'``); they agree at every ResNet width.
"""

from typing import Optional, Type

import torch
import torch.nn as nn
import torch.nn.functional as F

from .checks import MAX_KERNEL_SIZE, check_choice, check_flag, check_int, check_number
from .fast_paths import channel_max, gate_product_recomputed, keeps_less_for_backward, max_over_positions
from .helpers import GatingModule, apply_gate, GateBatchNorm2d, reduced_channels
from .registry import register_attention

# FX records these functions as calls instead of tracing into their shape/grad-mode branches.
torch.fx.wrap('apply_gate')
torch.fx.wrap('channel_max')

__all__ = ['CBAM', 'SpatialGate']


POOL_ORDERS = ['mean_max', 'max_mean']


class SpatialGate(nn.Module):
    """CBAM's spatial gate: ``sigmoid(BN(conv_kxk([mean_c; max_c])))`` per position.

    Args:
        kernel_size: Kernel of the convolution (odd).
        bn_momentum: Momentum of the BN's running statistics.
        bn_eps: Epsilon of the BN.
        pool_order: ``'mean_max'`` (the paper's ``[mean; max]``) or ``'max_mean'``.
        owner: Name used in error messages (the kind this gate belongs to).
    """

    def __init__(
            self,
            kernel_size: int = 7,
            bn_momentum: float = 0.1,
            bn_eps: float = 1e-5,
            pool_order: str = 'mean_max',
            owner: str = 'SpatialGate',
            device=None,
            dtype=None,
    ) -> None:
        super().__init__()
        check_int(kernel_size, 'kernel_size', owner, 1, MAX_KERNEL_SIZE, odd=True)
        check_number(bn_momentum, 'bn_momentum', owner, 0.0, 1.0, allow_minimum=True)
        check_number(bn_eps, 'bn_eps', owner, 0.0, 1.0)
        self.pool_order = check_choice(pool_order, 'pool_order', owner, POOL_ORDERS)
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False, device=device, dtype=dtype)
        self.bn = GateBatchNorm2d(1, eps=bn_eps, momentum=bn_momentum, device=device, dtype=dtype)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool_order == 'max_mean':
            pooled = torch.cat([channel_max(x), x.mean(1, keepdim=True)], dim=1)
        else:
            pooled = torch.cat([x.mean(1, keepdim=True), channel_max(x)], dim=1)
        return self.from_pooled(pooled)

    def from_pooled(self, pooled: torch.Tensor) -> torch.Tensor:
        """The gate of an already pooled ``(N, 2, H, W)`` map (in ``pool_order``)."""
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
        mlp_bias: Whether the MLP's layers have biases (paper: no, default; authors: yes).
        pool_order: ``'mean_max'`` (paper, default) or ``'max_mean'`` (authors' code).
        bn_momentum: Momentum of the spatial gate's BN (default 0.1; authors 0.01).
        bn_eps: Epsilon of the spatial gate's BN (1e-5, as the authors').
        rd_rounding: ``'round'`` (default) or ``'floor'`` (the authors' ``C // r``).
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
            pool_order: str = 'mean_max',
            bn_momentum: float = 0.1,
            bn_eps: float = 1e-5,
            rd_rounding: str = 'round',
            inplace: bool = False,
            device=None,
            dtype=None,
    ) -> None:
        super().__init__(channels, inplace)
        dd = dict(device=device, dtype=dtype)
        rd = reduced_channels(channels, rd_ratio, rd_channels, owner=self.class_name, rounding=rd_rounding)
        check_flag(mlp_bias, 'mlp_bias', self.class_name)
        spatial = SpatialGate(kernel_size, bn_momentum, bn_eps, pool_order, owner=self.class_name, **dd)
        self.fc1 = nn.Conv2d(channels, rd, 1, bias=mlp_bias, **dd)
        self.act = act_layer(inplace=True)
        self.fc2 = nn.Conv2d(rd, channels, 1, bias=mlp_bias, **dd)
        self.gate = nn.Sigmoid()
        self.spatial = spatial

    def channel_gate(self, x: torch.Tensor) -> torch.Tensor:
        """The channel gate, shape ``(N, C, 1, 1)``."""
        n, c = x.shape[:2]
        return self.gate((self._mlp(x.mean((2, 3))) + self._mlp(max_over_positions(x))).view(n, c, 1, 1))

    def _mlp(self, pooled: torch.Tensor) -> torch.Tensor:
        # The 1x1 convolutions' weights applied as matrix products on an (N, C) descriptor:
        # the same values, a GEMM call instead of a convolution primitive. (Stacking both
        # descriptors into one call is no faster and keeps more memory for backward.)
        hidden = self.act(F.linear(pooled, self.fc1.weight.flatten(1), self.fc1.bias))
        return F.linear(hidden, self.fc2.weight.flatten(1), self.fc2.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        if not torch.jit.is_scripting():
            if keeps_less_for_backward(x):
                # Eager training: backward keeps x (needed for the channel gate anyway), not
                # the channel-gated map, which it recomputes: one feature map less per block.
                g = self.channel_gate(x)
                x1 = x * g
                return gate_product_recomputed(x1, self.spatial(x1), x, g)
        x = apply_gate(x, self.channel_gate(x), self.inplace)
        # x is now this module's own tensor (or the input, if it may be overwritten):
        # in inference the spatial gate is multiplied into it in place.
        return apply_gate(x, self.spatial(x), inplace=True)
