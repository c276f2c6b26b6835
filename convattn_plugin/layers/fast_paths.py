"""Gate products that keep less for backward than autograd's ``x * gate`` (pure torch).

A gated block computes ``x1 = x * g`` and then ``y = x1 * s`` (CBAM: a channel gate ``g``,
then a spatial gate ``s``). Autograd keeps both ``x`` (for ``g``'s gradient) and ``x1``
(for ``s``'s gradient): two feature maps per block. :func:`gate_product_recomputed`
computes the second product but keeps ``x`` and ``g`` instead of ``x1``, and recomputes
``x1 = x * g`` in backward: one multiply more, one feature map less (``x`` is kept by the
first product anyway). Values and gradients equal the plain form (checked in float64 by
``torch.autograd.gradcheck`` in the tests).

For eager training only: custom autograd functions cannot be scripted and are not what
``torch.fx`` / ``torch.export`` should record; callers use :func:`keeps_less_for_backward`
to take this path only when it helps.
"""
from __future__ import annotations

import torch

__all__ = [
    'fused_backward_applies', 'gate_product_recomputed', 'keeps_less_for_backward', 'max_along', 'max_over_positions',
]


class _GateProductRecomputed(torch.autograd.Function):
    """``x1 * s`` keeping ``(s, x, g)`` for backward, where ``x1 == x * g``."""

    @staticmethod
    def forward(ctx, x1: torch.Tensor, s: torch.Tensor, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(s, x, g)
        ctx.x1_shape = x1.shape
        return x1 * s

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        s, x, g = ctx.saved_tensors
        grad_x1 = grad_s = None
        if ctx.needs_input_grad[0]:
            grad_x1 = (grad * s).sum_to_size(ctx.x1_shape)
        if ctx.needs_input_grad[1]:
            # d(x1 * s)/ds = x1, recomputed from what the first product kept.
            grad_s = (x * g).mul_(grad).sum_to_size(s.shape)
        return grad_x1, grad_s, None, None


def gate_product_recomputed(x1: torch.Tensor, s: torch.Tensor, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """``x1 * s`` for ``x1 == x * g``, keeping ``x`` and ``g`` for backward instead of ``x1``.

    Args:
        x1: The once-gated map, ``x * g``.
        s: The second gate (broadcasts to ``x1``).
        x: The input of the first product (kept by it for backward anyway).
        g: The first gate.

    Returns:
        ``x1 * s``; gradients flow to ``x1`` and ``s`` (``x`` and ``g`` receive theirs
        through ``x1``).
    """
    return _GateProductRecomputed.apply(x1, s, x, g)


def keeps_less_for_backward(x: torch.Tensor) -> bool:
    """Whether :func:`gate_product_recomputed` should be used for ``x``: eager autograd only.

    ``False`` under ``torch.compile`` / ``torch.export`` (they record the plain form), for
    FX proxies, without autograd, and for inputs that need no gradient.
    """
    if isinstance(x, torch.fx.Proxy) or torch.compiler.is_compiling():
        return False
    return torch.is_grad_enabled() and x.requires_grad


def fused_backward_applies(x: torch.Tensor) -> bool:
    """Whether a kind's hand-written backward (ECA's product, GC's pooling) should run for ``x``.

    As :func:`keeps_less_for_backward`, and further only for float32 / float64 on CPU or
    CUDA without autocast: autocast would run the forward in another dtype than these
    backwards assume; other devices (e.g. ``meta``) and dtypes take the plain form.
    """
    if not keeps_less_for_backward(x) or x.dtype not in (torch.float32, torch.float64):
        return False
    return x.device.type in ('cpu', 'cuda') and not torch.is_autocast_enabled(x.device.type)


def max_over_positions(x: torch.Tensor) -> torch.Tensor:
    """``x.amax((2, 3))``, shape ``(N, C)``; in eager training as ``max`` with indices.

    ``amax``'s backward compares its whole input with the result again (at ResNet-50's
    first stage about 4x the time of ``max``'s backward, which scatters into the kept
    indices); the values are the same, and so are the gradients unless a maximum is tied.
    """
    if not torch.jit.is_scripting():
        if keeps_less_for_backward(x):
            return max_along(x.flatten(2), 2)
    return x.amax((2, 3))


def max_along(x: torch.Tensor, dim: int) -> torch.Tensor:
    """``x.amax(dim)``; in eager training ``max`` with indices (a smaller, faster backward)."""
    if not torch.jit.is_scripting():
        if keeps_less_for_backward(x):
            return x.max(dim)[0]
    return x.amax(dim)
