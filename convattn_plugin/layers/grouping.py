"""Channel groups for the grouped kinds (``sge``, ``shuffle``, ``ema``) and a layout helper.

The authors fix a number of groups (SGE and SA-Net 64, EMA 32) and reshape ``C`` channels
into ``groups`` consecutive groups, which needs ``C`` divisible by it (by ``2 * groups`` for
Shuffle Attention, whose groups are split in halves). Every ResNet and VGG width from 64 up
meets that, so their value is the default. For other widths (``C = 3`` or ``48``) the default
falls back to the largest group count below theirs that divides ``C``; a ``groups`` given
explicitly must divide ``C``, else a ``ValueError`` says what is accepted.
"""
from __future__ import annotations

from typing import Optional

import torch

from .checks import check_int

__all__ = ['channel_norm', 'gate_by_group', 'like_input_layout', 'resolve_groups']


def resolve_groups(channels: int, groups: Optional[int], default: int, owner: str, multiple: int = 1) -> int:
    """The number of channel groups.

    Args:
        channels: Input channels.
        groups: The option as given; ``None`` for the authors' ``default`` (or the largest
            count below it for which ``channels`` is a multiple of ``multiple * groups``;
            1 when there is none).
        default: The authors' number of groups.
        owner: Name used in error messages.
        multiple: Channels per group must be a multiple of this (2: split in halves).
    """
    if groups is None:
        return next((g for g in range(min(default, channels), 0, -1) if channels % (multiple * g) == 0), 1)
    check_int(groups, 'groups', owner, 1, channels)
    if channels % (multiple * groups):
        what = 'groups' if multiple == 1 else f'{multiple} * groups'
        raise ValueError(
            f'{owner}: channels ({channels}) must be divisible by {what} ({multiple * groups}); '
            f'pass groups=None for the largest group count up to {default} that fits')
    return groups


@torch.fx.wrap
def like_input_layout(out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``out`` in ``x``'s memory format: channels-last stays channels-last after a reshape that copied."""
    if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        return out.contiguous(memory_format=torch.channels_last)
    return out


def gate_by_group(x: torch.Tensor, gate: torch.Tensor, groups: int, channels: int) -> torch.Tensor:
    """``x`` with each of its ``groups`` channel groups times its own position gate.

    ``gate`` holds one map per (sample, group), shaped ``(N * G, 1, H, W)`` or ``(N, G, H, W)``.
    The product is taken on a view of ``x`` (no copy, its memory format kept); ``channels`` is
    the module's static channel count (with one channel per group there is no group axis,
    on which ``torch.export`` would otherwise guard).
    """
    n, c, h, w = x.shape
    if groups == channels:
        return x * gate.reshape(n, c, h, w)
    return (x.reshape(n, groups, c // groups, h, w) * gate.reshape(n, groups, 1, h, w)).reshape(n, c, h, w)


def channel_norm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float) -> torch.Tensor:
    """GroupNorm with one group per channel (``GroupNorm(C, C)``), channels on axis -3.

    Written out instead of ``F.group_norm``: it takes ``(N, G, C', H, W)`` views without a
    reshape, and a single position gives ``bias`` (centred value 0) where ``F.group_norm``
    raises in training.
    """
    centred = x - x.mean((-2, -1), keepdim=True)
    var = centred.square().mean((-2, -1), keepdim=True)
    return centred * torch.rsqrt(var + eps) * weight.view(-1, 1, 1) + bias.view(-1, 1, 1)
