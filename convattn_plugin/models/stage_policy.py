"""Which stages of a backbone get attention: ``attn_stages`` and each kind's default.

Kinds whose cost is quadratic in positions (``get_attn_info(kind).quadratic``: ``selfattn``,
``nonlocal``, ``dualattn``) default to the last stage only, where the map is smallest;
every other kind defaults to every stage.
"""
from __future__ import annotations

from typing import Sequence, Union

from ..layers import get_attn_info

__all__ = ['resolve_attn_stages']


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
