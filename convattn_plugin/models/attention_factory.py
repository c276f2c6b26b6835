"""The attention a model builder puts in: which stages, the module for each position, the wrapper.

- :func:`resolve_attn_stages`: which stages of a backbone get attention (``attn_stages`` or the
  kind's default: kinds whose cost is quadratic in positions, ``get_attn_info(kind).quadratic``
  (``selfattn``, ``nonlocal``, ``dualattn``), default to the last stage only, where the map is
  smallest; every other kind to every stage).
- :func:`build_attention`: one attention module for one position. The layers'
  :func:`~convattn_plugin.layers.create_attn` checks a kind's options; this adds *where* the
  module was meant to go (``'resnet50_cbam stage 2 (layer3.0, 1024 channels)'``), so an option
  that cannot fit one stage of one model fails when the model is built and says which stage.
- :class:`ActAttn`: a parameter-free module (an activation, a pool) followed by attention.
  Replacing the activation that ends a stage with ``ActAttn(act, attn)`` adds
  ``<name>.attn.*`` keys and leaves every other key of the model, and the indices of an
  ``nn.Sequential``, unchanged: the plain model's weights still load.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence, Union

import torch
import torch.nn as nn

from ..layers import create_attn, get_attn_info, list_attentions

__all__ = ['ActAttn', 'attention_types', 'build_attention', 'check_attn_kwargs', 'resolve_attn_stages']


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


def resolve_attn_stages(
        kind: str,
        attn_stages: Union[int, Sequence[int], None],
        num_stages: int,
        family: str,
) -> tuple[int, ...]:
    """Normalise ``attn_stages`` to sorted, non-negative stage indices.

    Args:
        kind: Registered attention kind.
        attn_stages: An index, a sequence of indices (negative counts from the end), or
            ``None`` for the kind's default.
        num_stages: Number of stages of the backbone.
        family: Backbone name used in error messages.

    Raises:
        ValueError: An index that is not a stage of the backbone.
    """
    if attn_stages is None:
        return (num_stages - 1,) if get_attn_info(kind).quadratic else tuple(range(num_stages))
    if isinstance(attn_stages, int) and not isinstance(attn_stages, bool):
        attn_stages = (attn_stages,)
    if isinstance(attn_stages, (str, bytes)) or not isinstance(attn_stages, Sequence):
        raise ValueError(
            f'attn_stages: {attn_stages!r} is not a stage index or a sequence of them for {family}; '
            f'accepted: 0..{num_stages - 1} (or -{num_stages}..-1 from the end)')
    stages = set()
    for s in attn_stages:
        if isinstance(s, bool) or not isinstance(s, int) or not -num_stages <= s < num_stages:
            raise ValueError(
                f'attn_stages: {s!r} is not a stage of {family}; accepted: 0..{num_stages - 1} '
                f'(or -{num_stages}..-1 from the end)')
        stages.add(s % num_stages)
    return tuple(sorted(stages))


class ActAttn(nn.Module):
    """``attn(act(x))``.

    Args:
        act: The module that was at this position.
        attn: The attention applied to its output.
    """

    def __init__(self, act: nn.Module, attn: nn.Module) -> None:
        super().__init__()
        self.act = act
        self.attn = attn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attn(self.act(x))
