"""ResNet-18/34/50/101/152 with attention in their residual blocks: ``resnet{depth}_{kind}``.

The model is timm's own :class:`~timm.models.resnet.ResNet`. Each block of a chosen stage
gets the attention in its ``se`` slot, where timm's ``attn_layer`` goes: after the last
BN of the residual branch and before the addition (the placement of the CBAM paper,
Woo et al., arXiv:1807.06521). Plain ResNet keys are unchanged and attention adds
``layer{i}.{j}.se.*``, so timm and torchvision ResNet weights load as they are.

Stages are numbered 0..3 (``layer1``..``layer4``; timm feature index = stage + 1, since
``feature_info[0]`` is the stem). Kinds with quadratic cost (``selfattn``, ``nonlocal``,
``dualattn``) default to stage 3 only: at 224 px its 7x7 map gives a 49 x 49 attention
matrix per image, where stage 0's 56x56 map would give 3136 x 3136. Override with
``timm.create_model(name, attn_stages=(2, 3), attn_kwargs=dict(rd_ratio=1 / 8))``.

Forward hooks and in-place gating: by default every gate returns a new tensor, so a
forward hook on a block's last BN (``layer1[0].bn2``) keeps exactly what that BN computed.
``attn_kwargs=dict(inplace=True)`` (for the kinds that offer it: ``se``, ``eca``, ``cbam``)
lets the gate multiply into the BN's output in inference (autograd off), which saves
allocating one feature map per block; a hook on that BN then sees the gated values.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence, Union

import torch
import torch.nn as nn
from timm.models.resnet import BasicBlock, Bottleneck, ResNet

from ..layers import list_attentions
from .attention_factory import build_attention, check_attn_kwargs
from .family import ModelFamily, register_family_kind
from .stage_policy import resolve_attn_stages

__all__ = ['ATTN_POSITIONS', 'PAPER_PLACEMENT', 'RESNET_ARCHS', 'RESNET_FAMILY', 'AttnThenBatchNorm2d', 'register_resnet_kind']

# The arguments of timm's own resnet18..resnet152 entry points.
RESNET_ARCHS: dict[str, dict[str, Any]] = {
    'resnet18': dict(block=BasicBlock, layers=(2, 2, 2, 2)),
    'resnet34': dict(block=BasicBlock, layers=(3, 4, 6, 3)),
    'resnet50': dict(block=Bottleneck, layers=(3, 4, 6, 3)),
    'resnet101': dict(block=Bottleneck, layers=(3, 4, 23, 3)),
    'resnet152': dict(block=Bottleneck, layers=(3, 8, 36, 3)),
}
NUM_STAGES = 4
# Where attention goes in a chosen stage: every block's ``se`` slot (after the last BN);
# once on the stage's output (``layer{i}.attn``, BAM's paper placement between stages);
# every block after ``conv2``, before ``bn2`` (SimAM authors' ImageNet ResNets).
# 'paper': each kind where its paper (or the authors' ImageNet code) puts it in a ResNet,
# from PAPER_PLACEMENT; kinds not listed there go in every block ('block').
ATTN_POSITIONS = ('block', 'stage_end', 'before_bn2', 'paper')
PAPER_PLACEMENT: dict[str, tuple[str, Optional[tuple[int, ...]]]] = {
    'bam': ('stage_end', (0, 1, 2)),     # between stages: on the outputs of layer1..layer3
    'simam': ('before_bn2', None),       # the authors' ResNets: after conv2, before bn2
    'gc': ('block', (1, 2, 3)),          # GCNet: every block of c3-c5
    'nonlocal': ('stage_end', (2,)),     # one non-local block in res4 (layer3)
    'dualattn': ('stage_end', (3,)),     # DANet: once, on the backbone's output
}


class AttnThenBatchNorm2d(nn.BatchNorm2d):
    """``bn(attn(x))``: a BatchNorm2d whose input first goes through ``attn``.

    It keeps the BN's own state-dict keys (``bn2.weight``, ...); the attention's, if any,
    are added under ``attn.``, so a plain ResNet's weights still load.
    """

    def __init__(self, attn: nn.Module, bn: nn.BatchNorm2d) -> None:
        super().__init__(bn.num_features, bn.eps, bn.momentum, bn.affine, bn.track_running_stats,
                         device=bn.weight.device if bn.affine else None, dtype=bn.weight.dtype if bn.affine else None)
        self.load_state_dict(bn.state_dict())
        self.attn = attn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.BatchNorm2d.forward(self, self.attn(x))


def _stage_kwargs(attn_stage_kwargs: Optional[Mapping[int, Mapping[str, Any]]], variant: str) -> dict[int, dict]:
    """Per-stage options as ``{stage: dict}``; a dict keyed by stage index or a list of 4 dicts."""
    if attn_stage_kwargs is None:
        return {}
    if isinstance(attn_stage_kwargs, Sequence) and not isinstance(attn_stage_kwargs, (str, bytes)):
        attn_stage_kwargs = dict(enumerate(attn_stage_kwargs))
    if not isinstance(attn_stage_kwargs, Mapping) or not all(
            isinstance(s, int) and not isinstance(s, bool) and 0 <= s < NUM_STAGES for s in attn_stage_kwargs):
        raise ValueError(
            f'{variant}: attn_stage_kwargs must map stage indices 0..{NUM_STAGES - 1} to option dicts '
            f'(or be a list of {NUM_STAGES} dicts), e.g. {{0: dict(kernel_size=3)}}; got {attn_stage_kwargs!r}')
    return {s: check_attn_kwargs(o, f'{variant} stage {s}') for s, o in attn_stage_kwargs.items()}

# timm's register_model reads each name's cfg from here; register_family_kind fills it.
default_cfgs: dict[str, Any] = {}


def build_attn_resnet(
        attn_kind: str,
        attn_stages: Union[int, Sequence[int], None] = None,
        attn_kwargs: Optional[dict[str, Any]] = None,
        variant: str = 'ResNet',
        attn_stage_kwargs: Optional[Mapping[int, Mapping[str, Any]]] = None,
        attn_position: str = 'block',
        **kwargs: Any,
) -> ResNet:
    """timm's ResNet with ``attn_kind`` in the ``se`` slot of every block of ``attn_stages``.

    timm's ``make_blocks`` gives every stage the same ``attn_layer``, so per-stage attention
    is set into the slot after construction. That also keeps ``ResNet.init_weights``
    (Kaiming on every conv) from overwriting the kinds' own initialisation, such as the
    zero-initialised output of ``gc`` and ``nonlocal`` that makes a new block the identity.

    Args:
        attn_kind: Registered attention kind.
        attn_stages: Stages 0..3 that get attention; ``None``: all, or 3 for quadratic kinds.
        attn_kwargs: Options of the kind, checked for every stage.
        variant: Model name for error messages.
        attn_stage_kwargs: Options for single stages over ``attn_kwargs``, ``{stage: dict}``
            or a list of one dict per stage (e.g. ECA's per-stage kernel sizes).
        attn_position: ``'block'`` (default), ``'stage_end'``, ``'before_bn2'`` or ``'paper'``
            (the kind's paper placement, :data:`PAPER_PLACEMENT`; ``attn_stages`` still overrides).
        **kwargs: Arguments of timm's ``ResNet``.
    """
    options = check_attn_kwargs(attn_kwargs, variant)
    per_stage = _stage_kwargs(attn_stage_kwargs, variant)
    if attn_position not in ATTN_POSITIONS:
        raise ValueError(f'{variant}: attn_position={attn_position!r} is not one of {ATTN_POSITIONS}')
    if attn_position == 'paper':
        attn_position, paper_stages = PAPER_PLACEMENT.get(attn_kind, ('block', None))
        attn_stages = paper_stages if attn_stages is None else attn_stages
    stages = resolve_attn_stages(attn_kind, attn_stages, NUM_STAGES, variant)
    model = ResNet(**kwargs)
    options = {'device': kwargs.get('device'), 'dtype': kwargs.get('dtype'), **options}
    for s in stages:
        channels = model.feature_info[s + 1]['num_chs']
        stage_options = {**options, **per_stage.get(s, {})}
        layer = getattr(model, f'layer{s + 1}')
        if attn_position == 'stage_end':  # on the stage's output: layer{i}.attn after its blocks
            where = f'{variant} after stage {s} (layer{s + 1}.attn, {channels} channels)'
            layer.add_module('attn', build_attention(attn_kind, channels, where, **stage_options))
            continue
        for b, block in enumerate(layer):
            if attn_position == 'before_bn2':
                width = block.bn2.num_features
                where = f'{variant} stage {s} (layer{s + 1}.{b}.bn2.attn, {width} channels)'
                block.bn2 = AttnThenBatchNorm2d(build_attention(attn_kind, width, where, **stage_options), block.bn2)
                continue
            where = f'{variant} stage {s} (layer{s + 1}.{b}, {channels} channels)'
            block.se = build_attention(attn_kind, channels, where, **stage_options)
    return model


RESNET_FAMILY = ModelFamily(
    name='ResNet',
    module=__name__,
    archs=RESNET_ARCHS,
    build=build_attn_resnet,
    num_stages=NUM_STAGES,
    placement='in the residual blocks',
    last_stage='layer4',
    backbone_arxiv='1512.03385',
    cfg=dict(first_conv='conv1', classifier='fc'),
)


def register_resnet_kind(kind: str) -> list[str]:
    """Register ``resnet{18,34,50,101,152}_{kind}`` into timm (for a kind registered later)."""
    return register_family_kind(RESNET_FAMILY, kind)


for _kind in list_attentions():
    register_resnet_kind(_kind)
