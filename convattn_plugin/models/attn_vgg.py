"""VGG-11/13/16/19 (plain and ``_bn``) with attention ending each stage: ``vgg{depth}[_bn]_{kind}``.

The model is timm's own :class:`~timm.models.vgg.VGG`. As in seed 003's
``VGG16WithAttention``, the attention sits at the end of each conv stage, after its last
activation and before its max-pool. It is inserted by replacing that activation with
:class:`~convattn_plugin.models.inject.ActAttn` (activation, then attention), so every
``features.{i}`` index of a conv or BN is the one of timm's plain VGG, attention adds
``features.{i}.attn.*``, and plain VGG weights (timm or torchvision layout) load unchanged.
``feature_info`` still points at ``features.{i}``, so stage features include the attention.

Stages are numbered 0..4 (the five conv stages, before pools 1..5; the timm feature
index equals the stage, and ``feature_info[5]`` is the final pool). Kinds with quadratic
cost (``selfattn``, ``nonlocal``, ``dualattn``) default to stage 4 only: at 224 px its
14x14 map gives a 196 x 196 attention matrix per image, where stage 2's 56x56 map would
give 3136 x 3136 (and stage 0 works at full resolution). Override with
``timm.create_model(name, attn_stages=(3, 4), attn_kwargs=dict(rd_ratio=1 / 16))``.
"""
from __future__ import annotations

from functools import partial
from typing import Any, Callable, Optional, Sequence, Union

import torch.nn as nn
from timm.models import build_model_with_cfg
from timm.models.vgg import VGG, _filter_fn, cfgs

from ..layers import get_attn_info, list_attentions
from ._factory import attn_cfg, register_kind
from .inject import ActAttn, build_attention, resolve_attn_stages

__all__ = ['VGG_ARCHS', 'register_vgg_kind']

# The arguments of timm's own vgg11..vgg19_bn entry points.
VGG_ARCHS: dict[str, dict[str, Any]] = {
    **{f'vgg{d}': dict(cfg=cfgs[f'vgg{d}']) for d in (11, 13, 16, 19)},
    **{f'vgg{d}_bn': dict(cfg=cfgs[f'vgg{d}'], norm_layer=nn.BatchNorm2d) for d in (11, 13, 16, 19)},
}
NUM_STAGES = 5

# timm's register_model reads each name's cfg from here; register_kind fills it.
default_cfgs: dict[str, Any] = {}


def _attn_vgg(
        attn_kind: str,
        attn_stages: Union[int, Sequence[int], None] = None,
        attn_kwargs: Optional[dict[str, Any]] = None,
        variant: str = 'VGG',
        **kwargs: Any,
) -> VGG:
    """timm's VGG with ``attn_kind`` after the last activation of every stage in ``attn_stages``.

    Inserted after construction, so ``VGG._initialize_weights`` leaves the kinds' own
    initialisation alone.

    Args:
        attn_kind: Registered attention kind.
        attn_stages: Stages 0..4 that get attention; ``None``: all, or 4 for quadratic kinds.
        attn_kwargs: Options of the kind, checked for every stage.
        variant: Model name for error messages.
        **kwargs: Arguments of timm's ``VGG`` (``cfg`` included).
    """
    model = VGG(**kwargs)
    options = {'device': kwargs.get('device'), 'dtype': kwargs.get('dtype'), **(attn_kwargs or {})}
    for s in resolve_attn_stages(attn_kind, attn_stages, NUM_STAGES, variant):
        idx = model.feature_ends[s]  # the activation before the stage's max-pool
        channels = model.feature_info[s]['num_chs']
        where = f'{variant} stage {s} (features.{idx}, {channels} channels)'
        model.features[idx] = ActAttn(model.features[idx], build_attention(attn_kind, channels, where, **options))
    return model


def _create_attn_vgg(variant: str, pretrained: bool = False, **kwargs: Any) -> VGG:
    # As timm's _create_vgg: six feature taps (five stages + final pool), torchvision key mapping.
    out_indices = kwargs.pop('out_indices', (0, 1, 2, 3, 4, 5))
    return build_model_with_cfg(
        partial(_attn_vgg, variant=variant),
        variant,
        pretrained,
        feature_cfg=dict(flatten_sequential=True, out_indices=out_indices),
        pretrained_filter_fn=_filter_fn,
        **kwargs,
    )


def _cfg(kind: str) -> dict[str, Any]:
    return attn_cfg(kind, '1409.1556', first_conv='features.0', classifier='head.fc')


def _entrypoint(arch: str, kind: str) -> Callable[..., VGG]:
    name = f'{arch}_{kind}'

    def entrypoint(pretrained: bool = False, **kwargs: Any) -> VGG:
        model_args = dict(VGG_ARCHS[arch], attn_kind=kind)
        return _create_attn_vgg(name, pretrained, **dict(model_args, **kwargs))

    info = get_attn_info(kind)
    stages = 'stage 4 (the last) only, its cost being quadratic' if info.quadratic else 'every stage'
    entrypoint.__doc__ = (
        f'{arch} with {info.paper or kind} attention before the max-pool of {stages}.\n\n'
        'Keyword args ``attn_stages`` (0..4) and ``attn_kwargs`` override the placement and options.')
    return entrypoint


def register_vgg_kind(kind: str) -> list[str]:
    """Register ``vgg{11,13,16,19}[_bn]_{kind}`` into timm (for a kind registered later)."""
    return register_kind(__name__, VGG_ARCHS, kind, _entrypoint, _cfg)


for _kind in list_attentions():
    register_vgg_kind(_kind)
