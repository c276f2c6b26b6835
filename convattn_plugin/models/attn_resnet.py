"""ResNet-18/34/50/101/152 and ResNeXt-50 (32x4d) with attention: ``resnet{depth}_{kind}``,
``resnext50_32x4d_{kind}``.

The model is timm's own :class:`~timm.models.resnet.ResNet` (ResNeXt: its bottleneck's 3x3 conv
has 32 groups of 4 channels per 64 of ``planes``, ``cardinality=32, base_width=4``, as timm's
``resnext50_32x4d``; Xie et al., arXiv:1611.05431). By default each kind goes where
its paper (or its authors' ImageNet code) puts it in a ResNet (``attn_position='paper'``,
:data:`PAPER_PLACEMENT`): ``bam`` once on the outputs of layer1..layer3, ``simam`` in every
block after conv2 and before bn2, ``gc`` in the blocks of layer2..layer4, ``nonlocal`` once
after layer3, ``dualattn`` once after layer4, ``sk`` in place of every bottleneck's 3x3 conv
(``attn_position='conv2'``, with its BN and ReLU; ``layer{i}.{j}.conv2.*``, SKNet's placement; in
the BasicBlocks of ResNet-18/34, for which the SK authors define no unit, after ``act1``),
``psa`` after every block's ``act1`` (``'after_act1'``, ``layer{i}.{j}.act1.attn.*``, the PSA
authors' placement in their HRNet BasicBlocks). ``fca`` gets the authors' DCT size per stage (56, 28, 14, 7:
their ImageNet maps at 224 px, :data:`PAPER_STAGE_OPTIONS`). Every other kind goes in every block's ``se``
slot, where timm's ``attn_layer`` goes: after the last BN of the residual branch and before
the addition (the placement of SE and CBAM, Woo et al., arXiv:1807.06521), of every stage,
or of layer4 only for ``selfattn`` (quadratic cost). Plain ResNet keys are unchanged and
attention adds ``layer{i}.{j}.se.*``, ``layer{i}.attn.*``, ``layer{i}.{j}.bn2.attn.*`` or
``layer{i}.{j}.act1.attn.*``, so timm and torchvision ResNet weights load as they are; only
``resnet{50,101,152}_sk`` and ``resnext50_32x4d_sk`` drop each bottleneck's ``conv2`` / ``bn2`` keys (the SK
unit replaces them; in ResNeXt too the unit's branches have 32 groups, SKNet-50 being a ResNeXt-50 with SK units).

Stages are numbered 0..3 (``layer1``..``layer4``; timm feature index = stage + 1, since
``feature_info[0]`` is the stem). ``attn_position='block'`` puts any kind in the ``se`` slot
(quadratic kinds then in layer4 only: at 224 px its 7x7 map gives a 49 x 49 attention matrix,
where layer1's 56x56 map would give 3136 x 3136). Override with
``timm.create_model(name, attn_position='block', attn_stages=(2, 3), attn_kwargs=dict(rd_ratio=1 / 8))``.

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
import torch.nn.functional as F
from timm.models.resnet import BasicBlock, Bottleneck, ResNet

from ..layers import list_attentions
from .attention_factory import ActAttn, build_attention, check_attn_kwargs, resolve_attn_stages
from .family import ModelFamily, register_family_kind

__all__ = [
    'ATTN_POSITIONS', 'PAPER_OPTIONS', 'PAPER_PLACEMENT', 'PAPER_STAGE_OPTIONS', 'RESNET_ARCHS', 'RESNET_FAMILY', 'AttnThenBatchNorm2d',
    'describe_placement', 'register_resnet_kind',
]

# The arguments of timm's own resnet18..resnet152 and resnext50_32x4d entry points.
RESNET_ARCHS: dict[str, dict[str, Any]] = {
    'resnet18': dict(block=BasicBlock, layers=(2, 2, 2, 2)),
    'resnet34': dict(block=BasicBlock, layers=(3, 4, 6, 3)),
    'resnet50': dict(block=Bottleneck, layers=(3, 4, 6, 3)),
    'resnet101': dict(block=Bottleneck, layers=(3, 4, 23, 3)),
    'resnet152': dict(block=Bottleneck, layers=(3, 8, 36, 3)),
    'resnext50_32x4d': dict(block=Bottleneck, layers=(3, 4, 6, 3), cardinality=32, base_width=4),
}
NUM_STAGES = 4
# Where attention goes in a chosen stage: every block's ``se`` slot (after the last BN);
# once on the stage's output (``layer{i}.attn``, BAM's paper placement between stages);
# every block after ``conv2``, before ``bn2`` (SimAM authors' ImageNet ResNets); in place of
# every bottleneck's ``conv2`` + ``bn2`` + ``act2`` (SKNet: the unit has the conv's stride and
# its own BN and ReLU per branch); after every block's ``act1`` (PSA in the authors' HRNet
# BasicBlocks: after the first 3x3 conv + BN + ReLU; in a Bottleneck that is after the 1x1
# reduction + BN + ReLU, on ``width`` channels, before the 3x3 conv).
# 'paper' (the default): each kind where its paper (or the authors' ImageNet code) puts it in
# a ResNet, from PAPER_PLACEMENT; kinds not listed there go in every block ('block').
ATTN_POSITIONS = ('block', 'stage_end', 'before_bn2', 'conv2', 'after_act1', 'paper')
PAPER_PLACEMENT: dict[str, tuple[str, Optional[tuple[int, ...]]]] = {
    'bam': ('stage_end', (0, 1, 2)),     # between stages: on the outputs of layer1..layer3
    'simam': ('before_bn2', None),       # the authors' ResNets: after conv2, before bn2
    'gc': ('block', (1, 2, 3)),          # GCNet: every block of c3-c5
    'nonlocal': ('stage_end', (2,)),     # one non-local block in res4 (layer3)
    'dualattn': ('stage_end', (3,)),     # DANet: once, on the backbone's output
    'sk': ('conv2', None),               # SKNet: the SK unit replaces each bottleneck's 3x3 conv
    'psa': ('after_act1', None),         # PSA_s after the first conv + BN + ReLU of each block
}
# Kinds placed 'conv2' by their paper go after act1 in a BasicBlock (resnet18_sk, resnet34_sk: an SK
# unit at stride 1 between conv1 + bn1 + ReLU and conv2). The SK authors have no ResNet-18/34: they
# define SK units for bottlenecks only (SKNet-26/50/101 are ResNeXt bottlenecks, implus/SKNet
# prototxts; implus/PytorchInsight resnet_sk.py keeps its BasicBlock plain: "TODO sknet for
# basicblocks"). timm's skresnet18/34 put SK in place of conv1 (in -> out channels, with the
# stride), which this same-channel unit cannot stand for: it goes right after conv1 instead. Not in
# the se slot: that follows timm's zero-initialised bn2, and the unit's ReLU-ended branches pass no
# gradient back from an all-zero input, so the block's branch would never train.
BASIC_BLOCK_FALLBACK = {'conv2': 'after_act1'}
# Options of the paper's ImageNet ResNets that differ from the kind's own default, used with
# attn_position='paper' under attn_kwargs / attn_stage_kwargs: SimAM's authors trained their
# ImageNet ResNets with lambda 0.1 (the layer keeps 1e-4, their CIFAR value).
PAPER_OPTIONS: dict[str, dict[str, Any]] = {
    'simam': dict(e_lambda=0.1),
}
# Per-stage options of the paper's ImageNet ResNets (stages 0..3), under attn_kwargs and
# attn_stage_kwargs: FcaNet's DCT filters are the size of each stage's map at 224 px
# (cfzd/FcaNet model/fcanet.py: c2wh = {64: 56, 128: 28, 256: 14, 512: 7}).
PAPER_STAGE_OPTIONS: dict[str, tuple[dict[str, Any], ...]] = {
    'fca': (dict(dct_size=56), dict(dct_size=28), dict(dct_size=14), dict(dct_size=7)),
}


def _span(stages: Sequence[int]) -> str:
    names = [f'layer{s + 1}' for s in stages]
    if len(names) > 2 and list(stages) == list(range(stages[0], stages[-1] + 1)):
        return f'{names[0]}-{stages[-1] + 1}'
    return ', '.join(names)


def describe_placement(kind: str, attn_position: str = 'paper',
                       attn_stages: Union[int, Sequence[int], None] = None) -> str:
    """Where ``resnet*_{kind}`` (and ``resnext50_32x4d_{kind}``) puts its attention, in words (``'after layer1-3'``).

    Args:
        kind: Registered attention kind.
        attn_position: As :func:`build_attn_resnet` takes it.
        attn_stages: As :func:`build_attn_resnet` takes it; ``None`` for the default.
    """
    position, stages = _resolve_placement(kind, attn_position, attn_stages, 'ResNet')
    if position == 'stage_end':
        return f'after {_span(stages)}'
    where = {'before_bn2': ', before bn2', 'after_act1': ', after act1',
             'conv2': ', in place of conv2 (bottlenecks; basic blocks: after act1)'}.get(position, '')
    return f'every block of {_span(stages)}{where}'


def _resolve_placement(kind: str, attn_position: str, attn_stages: Union[int, Sequence[int], None],
                       variant: str) -> tuple[str, tuple[int, ...]]:
    """``(position, stages)`` with ``'paper'`` resolved and ``attn_stages`` checked."""
    if attn_position not in ATTN_POSITIONS:
        raise ValueError(f'{variant}: attn_position={attn_position!r} is not one of {ATTN_POSITIONS}')
    if attn_position == 'paper':
        attn_position, paper_stages = PAPER_PLACEMENT.get(kind, ('block', None))
        attn_stages = paper_stages if attn_stages is None else attn_stages
    return attn_position, resolve_attn_stages(kind, attn_stages, NUM_STAGES, variant)


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
        # BatchNorm2d's own computation, written out: calling BatchNorm2d.forward from here
        # neither scripts (TorchScript) nor traces (its input check branches on x.dim(); the
        # attention has already refused an input that is not (N, C, H, W)).
        x = self.attn(x)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked)
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        keep_stats = not self.training or self.track_running_stats
        return F.batch_norm(
            x, self.running_mean if keep_stats else None, self.running_var if keep_stats else None,
            self.weight, self.bias, use_batch_stats, factor, self.eps)


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
        attn_position: str = 'paper',
        **kwargs: Any,
) -> ResNet:
    """timm's ResNet with ``attn_kind`` where its paper puts it, or as ``attn_position`` says.

    timm's ``make_blocks`` gives every stage the same ``attn_layer``, so per-stage attention
    is set into the slot after construction. That also keeps ``ResNet.init_weights``
    (Kaiming on every conv) from overwriting the kinds' own initialisation, such as the
    zero-initialised output of ``gc`` and ``nonlocal`` that makes a new block the identity.

    Args:
        attn_kind: Registered attention kind.
        attn_stages: Stages 0..3 that get attention; ``None``: the paper's stages
            (:data:`PAPER_PLACEMENT`), else all, or 3 for quadratic kinds.
        attn_kwargs: Options of the kind, checked for every stage; with ``'paper'`` they go
            over :data:`PAPER_OPTIONS` (SimAM's ``e_lambda=0.1``) and
            :data:`PAPER_STAGE_OPTIONS` (FcaNet's DCT size per stage).
        variant: Model name for error messages.
        attn_stage_kwargs: Options for single stages over ``attn_kwargs``, ``{stage: dict}``
            or a list of one dict per stage (e.g. ECA's per-stage kernel sizes).
        attn_position: ``'paper'`` (default: the kind's paper placement, :data:`PAPER_PLACEMENT`;
            ``attn_stages`` still overrides), ``'block'`` (the ``se`` slot of every block),
            ``'stage_end'`` (once on a stage's output), ``'before_bn2'``, ``'conv2'`` (in place
            of each bottleneck's 3x3 conv, BN and ReLU; the unit gets the conv's stride: ``sk``)
            or ``'after_act1'`` (after each block's first conv + BN + ReLU: ``psa``).
        **kwargs: Arguments of timm's ``ResNet``.
    """
    options = check_attn_kwargs(attn_kwargs, variant)
    per_stage = _stage_kwargs(attn_stage_kwargs, variant)
    paper_stage: Sequence[Mapping[str, Any]] = ({},) * NUM_STAGES
    basic = kwargs.get('block') is BasicBlock
    if attn_position == 'paper':
        options = {**PAPER_OPTIONS.get(attn_kind, {}), **options}
        paper_stage = PAPER_STAGE_OPTIONS.get(attn_kind, paper_stage)
        position = PAPER_PLACEMENT.get(attn_kind, ('block', None))[0]
        if basic and position in BASIC_BLOCK_FALLBACK:
            attn_position = BASIC_BLOCK_FALLBACK[position]
            attn_stages = PAPER_PLACEMENT[attn_kind][1] if attn_stages is None else attn_stages
    attn_position, stages = _resolve_placement(attn_kind, attn_position, attn_stages, variant)
    if attn_position == 'conv2' and basic:
        raise ValueError(
            f"{variant}: attn_position='conv2' replaces a bottleneck's 3x3 conv (+ BN + ReLU); a BasicBlock has none "
            "to replace (the SK authors define SK units for bottlenecks only); use attn_position='after_act1'")
    if attn_kind == 'sk' and attn_position == 'block' and kwargs.get('zero_init_last', True):
        # The se slot follows the block's last BN, which timm zero-initialises: the SK unit's input is
        # constant 0, its BatchNorms pass no gradient, and the unit never trains (measured on digits).
        raise ValueError(
            f"{variant}: sk at attn_position='block' follows the block's zero-initialised last BN (timm's "
            "zero_init_last): its input is 0, its BatchNorms pass no gradient and it never trains; accepted: "
            "attn_position='conv2' (bottlenecks), 'after_act1', 'paper', or zero_init_last=False")
    if 'stride' in options or any('stride' in o for o in per_stage.values()):
        raise ValueError(f"{variant}: stride is not an attention option here: attn_position='conv2' gives each unit "
                         "the stride of the conv it replaces, and every other position keeps the map's size")
    model = ResNet(**kwargs)
    options = {'device': kwargs.get('device'), 'dtype': kwargs.get('dtype'), **options}
    for s in stages:
        channels = model.feature_info[s + 1]['num_chs']
        stage_options = {**paper_stage[s], **options, **per_stage.get(s, {})}
        layer = getattr(model, f'layer{s + 1}')
        if attn_position == 'stage_end':  # on the stage's output: layer{i}.attn after its blocks
            where = f'{variant} after stage {s} (layer{s + 1}.attn, {channels} channels)'
            layer.add_module('attn', build_attention(attn_kind, channels, where, **stage_options))
            continue
        for b, block in enumerate(layer):
            if attn_position == 'conv2':  # the unit replaces conv2 + bn2 + act2
                width, stride = block.conv2.in_channels, block.conv2.stride[0]
                if block.conv2.dilation != (1, 1) or not isinstance(block.aa, nn.Identity):
                    raise ValueError(f"{variant}: attn_position='conv2' needs plain strided 3x3 convs "
                                     '(no output_stride dilation, no anti-aliasing)')
                where = f'{variant} stage {s} (layer{s + 1}.{b}.conv2, {width} channels, stride {stride})'
                block.conv2 = build_attention(attn_kind, width, where, stride=stride, **stage_options)
                block.bn2, block.act2 = nn.Identity(), nn.Identity()
                continue
            if attn_position == 'after_act1':
                width = block.bn1.num_features
                where = f'{variant} stage {s} (layer{s + 1}.{b}.act1.attn, {width} channels)'
                block.act1 = ActAttn(block.act1, build_attention(attn_kind, width, where, **stage_options))
                continue
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
    placement='in the ResNet',
    last_stage='layer4',
    describe_placement=describe_placement,
    extra_doc="``attn_position='block'`` puts any kind in the ``se`` slot of every block instead.",
    backbone_arxiv='1512.03385',
    arch_arxiv={'resnext50_32x4d': '1611.05431'},
    cfg=dict(first_conv='conv1', classifier='fc'),
)


def register_resnet_kind(kind: str) -> list[str]:
    """Register ``resnet{18,34,50,101,152}_{kind}`` and ``resnext50_32x4d_{kind}`` into timm (for a kind
    registered later)."""
    return register_family_kind(RESNET_FAMILY, kind)


for _kind in list_attentions():
    register_resnet_kind(_kind)
