"""VGG-11/13/16/19 (plain and ``_bn``) with attention ending each stage: ``vgg{depth}[_bn]_{kind}``.

The model is timm's own :class:`~timm.models.vgg.VGG`. As in the design this project
follows (attention after a VGG-16 stage's last activation, before its max-pool), the
attention is inserted by replacing that activation with
:class:`~convattn_plugin.models.attention_factory.ActAttn` (activation, then attention), so every
``features.{i}`` index of a conv or BN is the one of timm's plain VGG, attention adds
``features.{i}.attn.*``, and plain VGG weights (timm or torchvision layout) load unchanged.
``feature_info`` still points at ``features.{i}``, so stage features include the attention.

Stages are numbered 0..4 (the five conv stages, before pools 1..5; the timm feature
index equals the stage, and ``feature_info[5]`` is the final pool). Kinds with quadratic
cost (``selfattn``, ``nonlocal``, ``dualattn``) default to stage 4 only: at 224 px its
14x14 map gives a 196 x 196 attention matrix per image, where stage 2's 56x56 map would
give 3136 x 3136 (and stage 0 works at full resolution). Override with
``timm.create_model(name, attn_stages=(3, 4), attn_kwargs=dict(rd_ratio=1 / 16))``.
The head is timm's 7x7-conv MLP, or with ``head_mlp=(512,)`` a global-average-pool MLP
(:mod:`convattn_plugin.models.vgg_head`). In-place gating is off unless asked for with
``attn_kwargs=dict(inplace=True)`` (see :mod:`convattn_plugin.models.attn_resnet` on hooks).
"""
from __future__ import annotations

from typing import Any, Optional, Sequence, Union

import torch.nn as nn
from timm.models.vgg import VGG

from ..layers import list_attentions
from .attention_factory import ActAttn, build_attention, check_attn_kwargs, resolve_attn_stages
from .family import ModelFamily, register_family_kind
from .vgg_head import check_head_mlp, set_gap_mlp_head, torchvision_vgg_to_timm

__all__ = ['VGG_ARCHS', 'VGG_FAMILY', 'register_vgg_kind']

# Conv widths per stage, 'M' a max-pool: configurations A, B, D, E of the VGG paper
# (arXiv:1409.1556, table 1), the layouts of timm's and torchvision's vgg11..vgg19.
_POOL = 'M'
_LAYERS = {11: (1, 1, 2, 2, 2), 13: (2, 2, 2, 2, 2), 16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}
_WIDTHS = (64, 128, 256, 512, 512)
VGG_LAYOUTS: dict[int, list[Union[int, str]]] = {
    depth: [x for n, w in zip(per_stage, _WIDTHS) for x in [w] * n + [_POOL]]
    for depth, per_stage in _LAYERS.items()}

# The arguments of timm's own vgg11..vgg19_bn entry points.
VGG_ARCHS: dict[str, dict[str, Any]] = {
    **{f'vgg{d}': dict(cfg=VGG_LAYOUTS[d]) for d in _LAYERS},
    **{f'vgg{d}_bn': dict(cfg=VGG_LAYOUTS[d], norm_layer=nn.BatchNorm2d) for d in _LAYERS},
}
NUM_STAGES = 5

# timm's register_model reads each name's cfg from here; register_family_kind fills it.
default_cfgs: dict[str, Any] = {}


def build_attn_vgg(
        attn_kind: str,
        attn_stages: Union[int, Sequence[int], None] = None,
        attn_kwargs: Optional[dict[str, Any]] = None,
        head_mlp: Optional[Sequence[int]] = None,
        head_mlp_norm: bool = False,
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
        head_mlp: Hidden widths of a global-average-pool + MLP ``pre_logits``
            (:class:`~convattn_plugin.models.vgg_head.GapMlp`) in place of timm's 7x7-conv
            MLP; ``None`` keeps timm's.
        head_mlp_norm: BatchNorm after each hidden layer of ``head_mlp``.
        variant: Model name for error messages.
        **kwargs: Arguments of timm's ``VGG`` (``cfg`` included).
    """
    options = check_attn_kwargs(attn_kwargs, variant)
    stages = resolve_attn_stages(attn_kind, attn_stages, NUM_STAGES, variant)
    hidden = None if head_mlp is None else check_head_mlp(head_mlp, variant)
    if head_mlp_norm and not hidden:
        raise ValueError(f'{variant}: head_mlp_norm=True needs hidden layers (head_mlp=(width, ...))')
    if hidden is not None:
        # timm's 7x7-conv MLP (~100 M parameters) is replaced below: build it 1 wide.
        kwargs = dict(kwargs, mlp_ratio=1 / 4096)
    model = VGG(**kwargs)
    if hidden is not None:
        set_gap_mlp_head(model, hidden, head_mlp_norm, kwargs)
    options = {'device': kwargs.get('device'), 'dtype': kwargs.get('dtype'), **options}
    for s in stages:
        idx = model.feature_ends[s]  # the activation before the stage's max-pool
        channels = model.feature_info[s]['num_chs']
        where = f'{variant} stage {s} (features.{idx}, {channels} channels)'
        model.features[idx] = ActAttn(model.features[idx], build_attention(attn_kind, channels, where, **options))
    return model


VGG_FAMILY = ModelFamily(
    name='VGG',
    module=__name__,
    archs=VGG_ARCHS,
    build=build_attn_vgg,
    num_stages=NUM_STAGES,
    placement='before the max-pool',
    backbone_arxiv='1409.1556',
    cfg=dict(first_conv='features.0', classifier='head.fc'),
    # As timm's own VGG: six feature taps (five stages + final pool), torchvision key mapping.
    build_kwargs=dict(feature_cfg=dict(flatten_sequential=True, out_indices=(0, 1, 2, 3, 4, 5)),
                      pretrained_filter_fn=torchvision_vgg_to_timm),
    extra_doc='``head_mlp=(512,)`` gives a global-average-pool + MLP head in place of the 7x7-conv one.',
)


def register_vgg_kind(kind: str) -> list[str]:
    """Register ``vgg{11,13,16,19}[_bn]_{kind}`` into timm (for a kind registered later)."""
    return register_family_kind(VGG_FAMILY, kind)


for _kind in list_attentions():
    register_vgg_kind(_kind)
