"""Efficient Channel Attention.

Wang, Wu, Zhu, Li, Zuo, Hu, "ECA-Net: Efficient Channel Attention for Deep
Convolutional Neural Networks", CVPR 2020, arXiv:1910.03151. A 1-D convolution across
the pooled channel descriptor replaces SE's bottleneck; its kernel size adapts to the
channel count: ``t = int(|log2(C) / gamma + b / gamma|)``, ``k = t`` if ``t`` is odd else
``t + 1``, with ``gamma = 2, b = 1`` (the paper's Eq. 12, as the authors compute it).

A fixed ``kernel_size`` overrides the rule: the authors' released ImageNet checkpoints fix
k per stage (e.g. 3, 5, 5, 7 for ResNet-50, where the rule gives 5, 5, 5, 7), so the model
builders pass each stage its own value. The 1-D convolution has no bias, as theirs.
"""

import math
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from .checks import MAX_KERNEL_SIZE, check_int, check_number
from .gate_functions import fused_backward_applies
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
            if fused_backward_applies(x):
                # Eager fp32 training: one backward pass sums the gradient through the gate
                # and through the mean (autograd writes and re-reads one more feature map).
                return _EcaProduct.apply(x, self.conv.weight, self.conv, self.gate)
        return apply_gate(x, self.channel_gate(x), self.inplace)


class _EcaProduct(torch.autograd.Function):
    """``x * sigmoid(conv1d(mean_hw(x)))`` with a backward that writes ``x``'s gradient once.

    Autograd computes ``grad * g`` and the mean's broadcast gradient as two feature maps and
    adds them; here one ``addcmul`` does both. Values and gradients equal the plain form
    (``torch.autograd.gradcheck`` in float64, tests/test_layers_fidelity.py). The convolution
    and the sigmoid run as the module's ``conv`` and ``gate`` submodules, so their forward
    hooks (attention maps, feature extraction) fire as in the plain form; ``weight`` is
    ``conv.weight``, passed so that it receives its gradient here.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, conv: nn.Module, gate: nn.Module) -> torch.Tensor:
        n, c = x.shape[:2]
        pooled = x.mean((2, 3)).view(n, 1, c)
        g = gate(conv(pooled))
        ctx.save_for_backward(x, weight, pooled, g)
        return x * g.view(n, c, 1, 1)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, weight, pooled, g = ctx.saved_tensors
        n, c, h, w = x.shape
        padding = weight.shape[-1] // 2
        grad_y = (grad * x).sum((2, 3)).view(n, 1, c).mul_(g * (1 - g))  # through the sigmoid
        if x.device.type == 'cpu':
            grad_pooled, grad_weight = _conv1d_backward_by_shifts(grad_y, pooled, weight)
        else:  # both gradients of the 1-D convolution in one call, as autograd's own backward
            grad_pooled, grad_weight, _ = torch.ops.aten.convolution_backward(
                grad_y, pooled, weight, None, [1], [padding], [1], False, [0], 1,
                [ctx.needs_input_grad[0], ctx.needs_input_grad[1], False])
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.addcmul(grad_pooled.view(n, c, 1, 1).div_(h * w), grad, g.view(n, c, 1, 1))
        return grad_x, grad_weight, None, None


def _conv1d_backward_by_shifts(grad_y: torch.Tensor, pooled: torch.Tensor, weight: torch.Tensor):
    """Both gradients of ``conv1d(pooled, weight, padding=k // 2)`` on ``(N, 1, C)``, as ``k``
    shifted multiply-adds.

    On a CPU oneDNN's convolution backward of one row of ``C`` values has a large fixed and
    per-length cost (at ``C`` = 64 to 2048 several times these ``2k`` small operations). With
    ``y[i] = sum_t w[t] pooled[i + t - p]``: ``d pooled[j] = sum_t w[t] grad_y[j - t + p]``
    and ``d w[t] = sum_i grad_y[i] pooled[i + t - p]``.
    """
    n, _, c = pooled.shape
    k = weight.shape[-1]
    p = k // 2
    taps = weight.view(k)
    grad = grad_y.reshape(n, c)
    padded_grad = F.pad(grad, (p, p))                  # padded_grad[:, j + p] == grad[:, j]
    padded_in = F.pad(pooled.reshape(n, c), (p, p))
    grad_pooled = padded_grad[:, 2 * p:2 * p + c] * taps[0]
    for t in range(1, k):
        grad_pooled.addcmul_(padded_grad[:, 2 * p - t:2 * p - t + c], taps[t])
    grad_weight = torch.stack([(padded_in[:, t:t + c] * grad).sum() for t in range(k)])
    return grad_pooled.view(n, 1, c), grad_weight.view_as(weight)

