"""The hand-written fast paths of CBAM, GC, ECA and triplet, and the one switch that turns them off.

Each kind's file spells out its plain form: the paper's formula in ordinary torch ops, which
autograd differentiates. The forms here compute the same values and gradients with fewer passes
over the feature map or less kept for backward; the kinds call them where they apply:

==============================  ==========  ===================================================
name (in :data:`FAST_PATHS`)    kinds       what differs from the plain form
==============================  ==========  ===================================================
``cbam_recomputed_product``     cbam        eager training: the spatial product keeps ``x`` and
                                            the channel gate for backward, not ``x * g``, and
                                            recomputes ``x * g`` there (one feature map less)
``max_with_indices``            cbam,       eager training: maxima taken by ``max`` with indices
                                triplet     (backward scatters into the indices; ``amax``'s
                                            compares its whole input with the result again)
``channel_max_halves``          cbam,       inference on small maps: the maximum over channels as
                                triplet     element-wise maxima of channel halves (contiguous
                                            reads; a reduction over an NCHW tensor's channel axis
                                            is strided)
``eca_product``                 eca         eager fp32/fp64 training: one backward pass writes
                                            ``x``'s gradient through the gate and the mean; the
                                            gate's derivative comes from
                                            :func:`gate_derivative`
``gc_attention_pooling``        gc          eager fp32/fp64 training: ``x``'s two gradients of
                                            the attention pooling written by one product
``gc_pointwise_conv_as_bmm``    gc          ``conv_attn`` (a 1x1 convolution to one channel) as
                                            one batched matrix product
``triplet_summed_gates``        triplet     ``x`` gated once by the sum of the three back-rotated
                                            gates, not three rotated copies of ``x`` gated
==============================  ==========  ===================================================

The switch: inside ``with plain_forward():`` (or with the environment variable
``CONVATTN_PLAIN_FORWARD=1`` set when the package is imported) every kind runs its plain form,
for debugging, to compare against, or to try a change of a kind without its fast paths. The
switch is process-wide, read on every forward (TorchScript keeps the form it was scripted with;
``torch.fx.symbolic_trace`` records the form in force while tracing). TorchScript, FX,
``torch.compile``, ``torch.export`` and autocast always see the plain form of the training paths
(custom autograd functions are not what they should record). Each fast path is compared with its
plain form in float64, forward and backward, in tests/test_layers_fast_paths.py; the custom
backwards also pass ``torch.autograd.gradcheck``. What they save is measured by
``tools/benchmark.py`` (docs/cost.md).
"""
from __future__ import annotations

import contextlib
import os
from typing import Callable, Dict, Iterator, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    'FAST_PATHS', 'PLAIN_FORWARD_ENV', 'fast_paths_enabled', 'plain_forward',
    'gate_derivative', 'register_gate_derivative',
    'keeps_less_for_backward', 'fused_backward_applies',
    'gate_product_recomputed', 'max_over_positions', 'max_along', 'channel_max',
    'eca_product', 'attention_pooling', 'PointwiseConvToOne',
]

FAST_PATHS = (
    'cbam_recomputed_product', 'max_with_indices', 'channel_max_halves', 'eca_product',
    'gc_attention_pooling', 'gc_pointwise_conv_as_bmm', 'triplet_summed_gates',
)

PLAIN_FORWARD_ENV = 'CONVATTN_PLAIN_FORWARD'


class _Switch:
    plain = os.environ.get(PLAIN_FORWARD_ENV, '').strip().lower() not in ('', '0', 'false', 'no')


def fast_paths_enabled() -> bool:
    """Whether the kinds may take their fast paths (``False`` inside :func:`plain_forward`)."""
    return not _Switch.plain


@contextlib.contextmanager
def plain_forward(plain: bool = True) -> Iterator[None]:
    """Every kind runs its plain form inside this block (``plain=False``: the fast paths again).

    Example::

        with convattn_plugin.layers.plain_forward():
            reference = model(x)       # CBAM, GC, ECA, triplet as their formulas, autograd's backward

    Process-wide (all threads), restored on exit; ``CONVATTN_PLAIN_FORWARD=1`` sets the default.
    """
    if not isinstance(plain, bool):
        raise TypeError(f'plain_forward: plain must be a bool, got {plain!r}')
    before = _Switch.plain
    _Switch.plain = plain
    try:
        yield
    finally:
        _Switch.plain = before


# --------------------------------------------------------------------------- when they apply

def keeps_less_for_backward(x: torch.Tensor) -> bool:
    """Whether the eager-training paths (``cbam_recomputed_product``, ``max_with_indices``) apply.

    ``False`` under :func:`plain_forward`, under ``torch.compile`` / ``torch.export`` (they
    record the plain form), for FX proxies, without autograd, and for inputs that need no
    gradient.
    """
    if isinstance(x, torch.fx.Proxy) or torch.compiler.is_compiling() or _Switch.plain:
        return False
    return torch.is_grad_enabled() and x.requires_grad


def fused_backward_applies(x: torch.Tensor) -> bool:
    """Whether a hand-written backward (``eca_product``, ``gc_attention_pooling``) runs for ``x``.

    As :func:`keeps_less_for_backward`, and further only for float32 / float64 on CPU or
    CUDA without autocast: autocast would run the forward in another dtype than these
    backwards assume; other devices (e.g. ``meta``) and dtypes take the plain form.
    """
    if not keeps_less_for_backward(x) or x.dtype not in (torch.float32, torch.float64):
        return False
    return x.device.type in ('cpu', 'cuda') and not torch.is_autocast_enabled(x.device.type)


def inference_fast_path_applies(x: torch.Tensor) -> bool:
    """Whether an inference-only fast path (``channel_max_halves``) applies: eager, no autograd."""
    if torch.compiler.is_compiling() or _Switch.plain:
        return False
    return not (torch.is_grad_enabled() and x.requires_grad)


# --------------------------------------------------------------------------- gate derivatives

# The derivative of a gate as a function of its output, for hand-written backwards that keep
# only the output. Keyed by exact type: a subclass may compute something else.
_GATE_DERIVATIVES: Dict[type, Callable[[torch.Tensor], torch.Tensor]] = {
    nn.Sigmoid: lambda g: g * (1 - g),
    nn.Tanh: lambda g: 1 - g * g,
}


def register_gate_derivative(gate_type: type, derivative: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """Let hand-written backwards use a gate module of ``gate_type``.

    Args:
        gate_type: An ``nn.Module`` class (matched exactly, not its subclasses).
        derivative: ``d gate(y) / d y`` as a function of the gate's output ``gate(y)``
            (for the sigmoid ``g * (1 - g)``); element-wise, returns a new tensor.
    """
    if not (isinstance(gate_type, type) and issubclass(gate_type, nn.Module)):
        raise TypeError(f'register_gate_derivative: gate_type must be an nn.Module class, got {gate_type!r}')
    if not callable(derivative):
        raise TypeError(f'register_gate_derivative: derivative must be callable, got {derivative!r}')
    _GATE_DERIVATIVES[gate_type] = derivative


def gate_derivative(gate: nn.Module) -> Optional[Callable[[torch.Tensor], torch.Tensor]]:
    """The registered derivative (of the output) of ``gate``'s type, or ``None``.

    A kind whose gate has none (e.g. a user's ``m.gate = nn.SiLU()``) takes its plain form,
    which autograd differentiates: the hand-written backward never assumes a sigmoid.
    """
    return _GATE_DERIVATIVES.get(type(gate))


# --------------------------------------------------------------------------- maxima

def max_over_positions(x: torch.Tensor) -> torch.Tensor:
    """``x.amax((2, 3))``, shape ``(N, C)``; in eager training as ``max`` with indices."""
    if not torch.jit.is_scripting():
        if keeps_less_for_backward(x):
            return max_along(x.flatten(2), 2)
    return x.amax((2, 3))


def max_along(x: torch.Tensor, dim: int) -> torch.Tensor:
    """``x.amax(dim)``; in eager training ``max`` with indices (a smaller backward)."""
    if not torch.jit.is_scripting():
        if keeps_less_for_backward(x):
            return x.max(dim)[0]
    return x.amax(dim)


@torch.fx.wrap
def channel_max(x: torch.Tensor) -> torch.Tensor:
    """``x.amax(1, keepdim=True)``: on small maps in inference as maxima of channel halves, in training with indices.

    A reduction over the channel axis of an NCHW tensor is slow on CPUs when H*W is small;
    there, ``log2(C)`` element-wise maxima of the two channel halves read contiguous memory
    (the first writes a half-size map, the rest halve it in place) and give exactly ``amax``'s
    values. Under autograd ``max`` with indices keeps the indices for backward, where ``amax``
    would keep all of ``x``. Channels-last or otherwise strided inputs, and ``torch.compile`` /
    ``torch.export`` (the branch on H*W would become a guard), use ``amax``.
    """
    if not torch.jit.is_scripting():
        if not (keeps_less_for_backward(x) or inference_fast_path_applies(x)):
            return x.amax(1, keepdim=True)        # plain_forward(), torch.compile / export
    if torch.is_grad_enabled() and x.requires_grad:
        return torch.max(x, dim=1, keepdim=True)[0]
    c = x.shape[1]
    # Largest H*W for the halves: 64 (7x7 and 8x8 maps, ResNet's last stage; a literal, for
    # TorchScript). On larger maps they gain nothing in CBAM's forward and allocate a half-size map.
    if c == 1 or x.shape[2] * x.shape[3] > 64 or not x.is_contiguous():
        return x.amax(1, keepdim=True)
    h = (c + 1) // 2  # for odd c the halves share the middle channel: max is idempotent
    buf = torch.maximum(x[:, :h], x[:, c - h:])
    c = h
    while c > 1:
        # Fold the top c // 2 channels onto the bottom ones, in place (disjoint ranges; for odd
        # c the middle channel stays as it is).
        fold = c // 2
        torch.maximum(buf[:, :fold], buf[:, c - fold:c], out=buf[:, :fold])
        c -= fold
    return buf[:, :1].clone()  # not a view that keeps the half-size buffer alive


# --------------------------------------------------------------------------- CBAM

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

    A gated block computes ``x1 = x * g`` then ``y = x1 * s``; autograd keeps ``x`` (for
    ``g``'s gradient) and ``x1`` (for ``s``'s): two feature maps. This keeps ``x`` (kept by
    the first product anyway) and ``g``, and recomputes ``x1`` in backward: one multiply
    more, one feature map less. Gradients flow to ``x1`` and ``s`` (``x`` and ``g`` receive
    theirs through ``x1``).
    """
    return _GateProductRecomputed.apply(x1, s, x, g)


# --------------------------------------------------------------------------- ECA

class _EcaProduct(torch.autograd.Function):
    """``x * gate(conv1d(mean_hw(x)))`` with a backward that writes ``x``'s gradient once.

    Autograd computes ``grad * g`` and the mean's broadcast gradient as two feature maps and
    adds them; here one ``addcmul`` does both. The convolution and the gate run as the
    module's ``conv`` and ``gate`` submodules, so their forward hooks fire as in the plain
    form; ``weight`` is ``conv.weight``, passed so that it receives its gradient here;
    ``derivative`` is the gate's (:func:`gate_derivative`).
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, conv: nn.Module, gate: nn.Module,
                derivative: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        n, c = x.shape[:2]
        pooled = x.mean((2, 3)).view(n, 1, c)
        g = gate(conv(pooled))
        ctx.save_for_backward(x, weight, pooled, g)
        ctx.derivative = derivative
        return x * g.view(n, c, 1, 1)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, weight, pooled, g = ctx.saved_tensors
        n, c, h, w = x.shape
        padding = weight.shape[-1] // 2
        grad_y = (grad * x).sum((2, 3)).view(n, 1, c).mul_(ctx.derivative(g))  # through the gate
        if x.device.type == 'cpu':
            grad_pooled, grad_weight = _conv1d_backward_by_shifts(grad_y, pooled, weight)
        else:  # both gradients of the 1-D convolution in one call, as autograd's own backward
            grad_pooled, grad_weight, _ = torch.ops.aten.convolution_backward(
                grad_y, pooled, weight, None, [1], [padding], [1], False, [0], 1,
                [ctx.needs_input_grad[0], ctx.needs_input_grad[1], False])
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.addcmul(grad_pooled.view(n, c, 1, 1).div_(h * w), grad, g.view(n, c, 1, 1))
        return grad_x, grad_weight, None, None, None


def eca_product(x: torch.Tensor, conv: nn.Conv1d, gate: nn.Module) -> Optional[torch.Tensor]:
    """ECA's ``x * gate(conv(mean_hw(x)))`` with a one-pass backward, or ``None`` where it does not apply.

    ``None`` (the caller takes the plain form) outside eager fp32/fp64 training
    (:func:`fused_backward_applies`) and for a gate without a registered derivative.
    """
    derivative = gate_derivative(gate)
    if derivative is None or not fused_backward_applies(x):
        return None
    return _EcaProduct.apply(x, conv.weight, conv, gate, derivative)


def _conv1d_backward_by_shifts(grad_y: torch.Tensor, pooled: torch.Tensor, weight: torch.Tensor):
    """Both gradients of ``conv1d(pooled, weight, padding=k // 2)`` on ``(N, 1, C)``, as ``k``
    shifted multiply-adds.

    On a CPU oneDNN's convolution backward of one row of ``C`` values has a large fixed and
    per-length cost; these ``2k`` small operations cost less (docs/cost.md). With
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


# --------------------------------------------------------------------------- GC

class PointwiseConvToOne(nn.Conv2d):
    """``nn.Conv2d(channels, 1, 1)`` computed as one batched matrix product.

    The same parameters, state-dict keys, initialisation and hooks as the convolution; on a
    CPU oneDNN's convolution to a single channel is several times slower than the product
    (docs/cost.md). Contiguous and channels-last inputs are read in place (``flatten(2)`` is
    a view of either). Under :func:`plain_forward` it is the convolution.
    """

    def __init__(self, channels: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__(channels, 1, 1, bias=bias, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.jit.is_scripting():
            if _Switch.plain:
                return F.conv2d(x, self.weight, self.bias)
        n, c, h, w = x.shape
        weight = self.weight.view(1, 1, c).expand(n, 1, c)
        bias = self.bias
        if bias is None:
            return torch.bmm(weight, x.flatten(2)).view(n, 1, h, w)
        return torch.baddbmm(bias.view(1, 1, 1).expand(n, 1, h * w), weight, x.flatten(2)).view(n, 1, h, w)


class _AttentionPooling(torch.autograd.Function):
    """``sum_j softmax(w . x_j + b)_j x_j``, shape ``(N, C, 1, 1)``, with a one-pass backward for ``x``.

    Autograd writes two feature-map gradients for ``x`` (through the weighted sum and through
    the 1x1 convolution) and adds them; both are outer products, so one batched product of
    rank 2 writes their sum here. ``conv`` is the module's ``conv_attn`` (its hooks fire);
    ``weight`` and ``bias`` are its parameters, passed to receive their gradients. Works on
    contiguous and channels-last inputs, and returns ``x``'s gradient in ``x``'s layout.
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


def attention_pooling(x: torch.Tensor, conv: nn.Conv2d) -> Optional[torch.Tensor]:
    """GC's ``sum_j softmax(conv(x))_j x_j`` with a one-pass backward, or ``None`` where it does not apply."""
    if not fused_backward_applies(x):
        return None
    return _AttentionPooling.apply(x, conv.weight, conv.bias, conv)
