"""Pieces shared by the attention kinds: reduced widths, gating, fp32 softmax, the base class.

Every function a forward calls that branches on a tensor's shape, dtype or on the grad
mode is a module-level function wrapped with ``torch.fx.wrap``: ``torch.fx.symbolic_trace``
records it as one call instead of tracing into the branch, and the traced graph still
takes the branch at run time. Each such function is also TorchScript-compatible.
"""

import contextlib
from typing import ContextManager, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from .checks import check_attention_input, check_channels, check_choice, check_flag, check_int, check_number

# FX records these functions as calls instead of tracing into their shape/grad-mode branches.
torch.fx.wrap('check_attention_input')

__all__ = [
    'check_channels', 'reduced_channels', 'full_precision', 'apply_gate', 'add_residual', 'softmax_fp32',
    'AttentionModule', 'GatingModule', 'GateBatchNorm2d',
]

# How a bottleneck width C * rd_ratio becomes an int: 'round' (to nearest, ties to even,
# this project's default) or 'floor' (the authors' ``C // r`` in every reference code base).
RD_ROUNDINGS = ['round', 'floor']


def reduced_channels(
        channels: int,
        rd_ratio: float,
        rd_channels: Optional[int] = None,
        min_channels: int = 1,
        owner: str = 'attention',
        rounding: str = 'round',
) -> int:
    """Width of a bottleneck: ``channels * rd_ratio`` rounded, never below ``min_channels``.

    The papers write ``C / r``. With ``rounding='round'`` (default) the width is the nearest
    int; ``'floor'`` is the authors' ``C // r``. The two differ only when ``r`` does not
    divide ``C`` (never at ResNet/VGG widths with r = 2, 8, 16 or 32, so the authors'
    weights fit either way). The lower bound keeps a module valid for any ``channels >= 1``
    (``C=4, r=16`` gives 1, not 0).

    Bounds: a bottleneck is at most as wide as its input, so ``rd_ratio`` is in ``(0, 1]``
    and ``rd_channels`` in ``[1, max(channels, min_channels)]``. Larger values are refused
    here, before a huge layer is allocated.
    """
    check_choice(rounding, 'rd_rounding', owner, RD_ROUNDINGS)
    widest = max(channels, min_channels)
    if rd_channels is not None:
        return check_int(rd_channels, 'rd_channels', owner, 1, widest)
    ratio = check_number(rd_ratio, 'rd_ratio', owner, 0.0, 1.0)
    width = int(channels * ratio) if rounding == 'floor' else int(round(channels * ratio))
    return max(min_channels, width)


def full_precision(device: torch.device) -> ContextManager:
    """A region where autocast is off, so ops run in the dtype of their inputs.

    On the ``meta`` device (shape-only runs, e.g. FLOP counting) autocast does not exist
    and the region is a no-op.
    """
    if device.type == 'meta':
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, enabled=False)


@torch.fx.wrap
def softmax_fp32(logits: torch.Tensor, dim: int) -> torch.Tensor:
    """``softmax(logits)`` in at least fp32, even under autocast.

    Half-precision logits are computed and returned in fp32; fp32 and fp64 logits keep
    their dtype (an fp64 softmax is not rounded to fp32).
    """
    if logits.dtype != torch.float64:
        logits = logits.float()
    if not torch.jit.is_scripting():
        with full_precision(logits.device):
            return torch.softmax(logits, dim=dim)
    return torch.softmax(logits, dim=dim)


@torch.fx.wrap
def apply_gate(x: torch.Tensor, gate: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    """``x * gate`` (``gate`` broadcasts to ``x``'s shape).

    With ``inplace=True`` and autograd off (inference), the product is written into
    ``x`` and ``x`` is returned: no new feature map is allocated, and ``x`` stays in
    cache for the next pass (measured: docs/cost.md, ``--attn-inplace``). Under autograd
    the product is always a new tensor: backward needs the original ``x`` for the gate's
    gradient.
    """
    if inplace and _writable(x, gate):
        return x.mul_(gate)
    return x * gate


@torch.fx.wrap
def add_residual(x: torch.Tensor, delta: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    """``x + delta``; with ``inplace=True`` and autograd off, added into ``x`` (as :func:`apply_gate`)."""
    if inplace and _writable(x, delta):
        return x.add_(delta)
    return x + delta


def _writable(x: torch.Tensor, gate: torch.Tensor) -> bool:
    return (not torch.is_grad_enabled() and gate.dtype == x.dtype
            and (x.is_contiguous() or x.is_contiguous(memory_format=torch.channels_last)))


class AttentionModule(nn.Module):
    """Base of every kind here: stores ``channels`` and checks each input.

    ``forward`` of a subclass starts with ``self.check_input(x)``: a 4-D input with
    ``channels`` channels and at least one position, else a ``ValueError`` naming the
    class. The check works under FX, TorchScript, ``torch.export`` and ``torch.compile``
    (see :mod:`convattn_plugin.layers.checks`).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = check_channels(channels, type(self).__name__)
        self.class_name = type(self).__name__

    def check_input(self, x: torch.Tensor) -> None:
        check_attention_input(x, self.channels, self.class_name)

    def extra_repr(self) -> str:
        return f'channels={self.channels}'


class GatingModule(AttentionModule):
    """An attention kind whose output is its input times a gate.

    Args:
        channels: Input and output channels.
        inplace: When ``True``, inference (autograd off) multiplies the gate into the
            input tensor itself and returns it, as ``nn.ReLU(inplace=True)`` does: no new
            feature map is allocated. For inference only, and only where nothing else
            reads the input afterwards (e.g. the output of a residual block's last
            BatchNorm). A forward hook on the layer that produced the input then sees the
            gated values, not what that layer computed. Under autograd the product is
            always a new tensor. Default ``False``: the input is never modified.
    """

    def __init__(self, channels: int, inplace: bool = False) -> None:
        super().__init__(channels)
        self.inplace = check_flag(inplace, 'inplace', type(self).__name__)

    def extra_repr(self) -> str:
        return f'channels={self.channels}, inplace={self.inplace}' if self.inplace else super().extra_repr()


@torch.fx.wrap
def gate_batch_norm(
        x: torch.Tensor,
        running_mean: Optional[torch.Tensor],
        running_var: Optional[torch.Tensor],
        weight: Optional[torch.Tensor],
        bias: Optional[torch.Tensor],
        num_batches_tracked: Optional[torch.Tensor],
        training: bool,
        momentum: Optional[float],
        eps: float,
) -> torch.Tensor:
    """Batch norm that normalises a batch of one value per channel with the running statistics."""
    use_batch_stats = training or running_mean is None or running_var is None
    if training and running_mean is not None and x.numel() == x.shape[1]:
        use_batch_stats = False  # a batch statistic over one value is undefined
    factor = 0.0
    if training and use_batch_stats and running_mean is not None:
        if num_batches_tracked is not None:
            num_batches_tracked.add_(1)
        if momentum is None:
            factor = 1.0 / float(num_batches_tracked) if num_batches_tracked is not None else 0.0
        else:
            factor = momentum
    return F.batch_norm(x, running_mean, running_var, weight, bias, use_batch_stats, factor, eps)


class GateBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm as the papers use it inside gates, usable at one value per channel.

    In training, a batch statistic over a single value (batch 1 of a 1x1 map, or batch
    1 of a pooled descriptor) is undefined and ``nn.BatchNorm2d`` raises. This variant
    normalises such a batch with the running statistics instead (and leaves them
    unchanged); every other batch is ordinary BatchNorm.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return gate_batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                               self.num_batches_tracked, self.training, self.momentum, self.eps)
