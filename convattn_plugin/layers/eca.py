"""Efficient Channel Attention.

Wang, Wu, Zhu, Li, Zuo, Hu, "ECA-Net: Efficient Channel Attention for Deep
Convolutional Neural Networks", CVPR 2020, arXiv:1910.03151. A 1-D convolution across
the pooled channel descriptor replaces SE's bottleneck; its kernel size adapts to the
channel count: ``t = int(|log2(C) / gamma + b / gamma|)``, ``k = t`` if ``t`` is odd else
``t + 1``, with ``gamma = 2, b = 1`` (the paper's Eq. 12, as the authors compute it).

A fixed ``kernel_size`` overrides the rule: the authors' released ImageNet checkpoints fix
k per stage (e.g. 3, 5, 5, 7 for ResNet-50, where the rule gives 5, 5, 5, 7), so the model
builders pass each stage its own value. The 1-D convolution has no bias, as theirs.

Fast path (:mod:`~convattn_plugin.layers.fast_paths`, off under ``plain_forward()``): in eager
training a hand-written backward of the whole product. It takes the gate's derivative from
``gate_derivative(self.gate)`` (the sigmoid's is registered); a gate without a registered
derivative (``m.gate = nn.SiLU()``) runs the plain form, which autograd differentiates.
"""

import math
from typing import Optional

import torch
import torch.nn as nn

from .checks import MAX_KERNEL_SIZE, check_int, check_number
from .fast_paths import eca_product
from .helpers import GatingModule, apply_gate
from .registry import register_attention

# FX records these functions as calls instead of tracing into their shape/grad-mode branches.
torch.fx.wrap('apply_gate')


def eca_kernel_size(channels: int, gamma: float = 2, beta: float = 1) -> int:
    """The paper's adaptive kernel size (odd, at least 1)."""
    t = int(abs(math.log2(channels) / gamma + beta / gamma))
    return t if t % 2 else t + 1


@register_attention('eca', paper='ECA-Net (Wang et al., CVPR 2020)', arxiv='1910.03151')
class EfficientChannelAttn(GatingModule):
    """Channel gate from a 1-D convolution over the average-pooled channels.

    Args:
        channels: Input and output channels.
        kernel_size: Fixed 1-D kernel size; ``None`` uses the adaptive rule.
        gamma: ``gamma`` of the adaptive rule.
        beta: ``b`` of the adaptive rule.
        inplace: Multiply the gate into the input itself in inference, for inference
            only (as :class:`~convattn_plugin.layers.SqueezeExcite`'s). Default ``False``.
    """

    def __init__(
            self,
            channels: int,
            kernel_size: Optional[int] = None,
            gamma: float = 2,
            beta: float = 1,
            inplace: bool = False,
            device=None,
            dtype=None,
    ) -> None:
        super().__init__(channels, inplace)
        check_number(gamma, 'gamma', self.class_name)
        check_number(beta, 'beta', self.class_name, allow_minimum=True)
        if kernel_size is None:
            kernel_size = eca_kernel_size(channels, gamma, beta)
        check_int(kernel_size, 'kernel_size', self.class_name, 1, MAX_KERNEL_SIZE, odd=True)
        self.conv = nn.Conv1d(1, 1, kernel_size, padding=kernel_size // 2, bias=False, device=device, dtype=dtype)
        self.gate = nn.Sigmoid()

    def channel_gate(self, x: torch.Tensor) -> torch.Tensor:
        """The gate, shape ``(N, C, 1, 1)`` (the ``gate`` submodule sees ``(N, 1, C)``)."""
        n, c = x.shape[:2]
        return self.gate(self.conv(x.mean((2, 3)).view(n, 1, c))).view(n, c, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        if not torch.jit.is_scripting():
            # Eager fp32/fp64 training: one backward pass sums the gradient through the gate
            # and through the mean (autograd writes and re-reads one more feature map).
            out = eca_product(x, self.conv, self.gate)
            if out is not None:
                return out
        return apply_gate(x, self.channel_gate(x), self.inplace)
