"""Build one attention module for one position of a model, with errors that name the position.

The layers' :func:`~convattn_plugin.layers.create_attn` checks a kind's options; the model
builders call it through :func:`build_attention`, which adds *where* the module was meant
to go (``'resnet50_cbam stage 2 (layer3.0, 1024 channels)'``), so an option that cannot fit
one stage of one model fails when the model is built and says which stage.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

import torch.nn as nn

from ..layers import create_attn, get_attn_info, list_attentions

__all__ = ['attention_types', 'build_attention', 'check_attn_kwargs']


def attention_types() -> tuple[type, ...]:
    """The module classes of every registered kind (to tell attention parameters apart)."""
    return tuple(get_attn_info(k).cls for k in list_attentions())


def check_attn_kwargs(attn_kwargs: Optional[Mapping[str, Any]], where: str) -> dict[str, Any]:
    """``attn_kwargs`` as a new dict; a clear error for anything but a mapping with string keys.

    Args:
        attn_kwargs: The options given by the user, or ``None``.
        where: The model or call they were given to, for the message.
    """
    if attn_kwargs is None:
        return {}
    if not isinstance(attn_kwargs, Mapping) or not all(isinstance(k, str) for k in attn_kwargs):
        raise ValueError(
            f'{where}: attn_kwargs must be a dict of option names to values, e.g. '
            f'attn_kwargs=dict(rd_ratio=1 / 8), got {type(attn_kwargs).__name__} {attn_kwargs!r}')
    return dict(attn_kwargs)


def build_attention(kind: str, channels: int, where: str, **attn_kwargs: Any) -> nn.Module:
    """``create_attn(kind, channels, **attn_kwargs)``, failing with a message that starts with ``where``.

    Args:
        kind: A registered attention kind.
        channels: Channels of the feature map at that position.
        where: Human-readable position, e.g. ``'resnet50_cbam stage 2 (layer3.0, 1024 channels)'``.
        **attn_kwargs: Options of the kind; ``device`` / ``dtype`` are passed through.

    Raises:
        ValueError: Unknown kind or option, or an option that does not fit ``channels``.
    """
    rd_channels = attn_kwargs.get('rd_channels')
    if isinstance(rd_channels, int) and not isinstance(rd_channels, bool) and rd_channels > channels:
        raise ValueError(
            f'{where}: rd_channels={rd_channels} does not fit a stage of {channels} channels '
            f'(the bottleneck must be at most {channels} wide); use rd_ratio, or attn_stages to skip this stage')
    try:
        return create_attn(kind, channels, **attn_kwargs)
    except (TypeError, ValueError) as e:  # TypeError: an option the constructor does not take
        raise ValueError(f'{where}: cannot build {kind!r} attention for {channels} channels: {e}') from e
