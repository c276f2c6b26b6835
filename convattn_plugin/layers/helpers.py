"""Pieces shared by the attention kinds: argument checks and reduced widths."""
from __future__ import annotations

import contextlib
from typing import ContextManager, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ['check_channels', 'reduced_channels', 'full_precision', 'apply_gate', 'AttentionModule', 'GateBatchNorm2d']


def check_channels(channels: object, owner: str) -> int:
    """Return ``channels`` if it is a positive int, else raise a ``ValueError``."""
    if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
        raise ValueError(f'{owner}: channels must be a positive int, got {channels!r}')
    return channels


def reduced_channels(
        channels: int,
        rd_ratio: float,
        rd_channels: Optional[int] = None,
        min_channels: int = 1,
) -> int:
    """Width of a bottleneck: ``round(channels * rd_ratio)``, never below ``min_channels``.

    The papers write ``C / r``; rounding (instead of floor) and the lower bound keep a
    module valid for any ``channels >= 1`` (``C=4, r=16`` gives 1, not 0).
    """
    if rd_channels is not None:
        if isinstance(rd_channels, bool) or not isinstance(rd_channels, int) or rd_channels < 1:
            raise ValueError(f'rd_channels must be a positive int, got {rd_channels!r}')
        return rd_channels
    if not (isinstance(rd_ratio, (int, float)) and rd_ratio > 0):
        raise ValueError(f'rd_ratio must be a positive number, got {rd_ratio!r}')
    return max(min_channels, int(round(channels * rd_ratio)))


def full_precision(device: torch.device) -> ContextManager:
    """A region where autocast is off, so ops run in the dtype of their inputs.

    On the ``meta`` device (shape-only runs, e.g. FLOP counting) autocast does not exist
    and the region is a no-op.
    """
    if device.type == 'meta':
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, enabled=False)


def apply_gate(x: torch.Tensor, gate: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    """``x * gate`` (``gate`` broadcasts to ``x``'s shape).

    With ``inplace=True`` and autograd off (inference), the product is written into
    ``x`` and ``x`` is returned: no new feature map is allocated, and ``x`` stays in
    cache for the next pass (at ResNet-50 sizes on a CPU the multiply then takes about
    half the time). Under autograd the product is always a new tensor: backward needs
    the original ``x`` for the gate's gradient.
    """
    if inplace and _writable(x, gate):
        return x.mul_(gate)
    return x * gate


def _writable(x: torch.Tensor, *others: torch.Tensor) -> bool:
    return (not torch.is_grad_enabled() and all(o.dtype == x.dtype for o in others)
            and (x.is_contiguous() or x.is_contiguous(memory_format=torch.channels_last)))


class AttentionModule(nn.Module):
    """Base of every kind here: stores ``channels`` and checks each input.

    ``forward`` of a subclass starts with ``self.check_input(x)``. The check runs on
    shapes only, so ``torch.compile`` turns it into guards and ONNX export into nothing.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = check_channels(channels, type(self).__name__)

    def check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 4:
            raise ValueError(
                f'{type(self).__name__} expects a 4-D input (N, C, H, W) with C={self.channels}, '
                f'got a {x.dim()}-D tensor of shape {tuple(x.shape)}')
        if x.shape[1] != self.channels:
            raise ValueError(
                f'{type(self).__name__} was built for {self.channels} channels, '
                f'got an input with {x.shape[1]} channels (shape {tuple(x.shape)})')

    def extra_repr(self) -> str:
        return f'channels={self.channels}'


class GateBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm as the papers use it inside gates, usable at one value per channel.

    In training, a batch statistic over a single value (batch 1 of a 1x1 map, or batch
    1 of a pooled descriptor) is undefined and ``nn.BatchNorm2d`` raises. This variant
    normalises such a batch with the running statistics instead (and leaves them
    unchanged); every other batch is ordinary BatchNorm.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and x.numel() == x.shape[1]:
            return F.batch_norm(
                x, self.running_mean, self.running_var, self.weight, self.bias,
                training=False, momentum=0.0, eps=self.eps)
        return super().forward(x)
