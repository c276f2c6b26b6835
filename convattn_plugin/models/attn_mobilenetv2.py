"""MobileNetV2 with attention: ``mobilenetv2_{035,050,075,100,140,110d,120d}_{kind}``.

The model is timm's own :class:`~timm.models.efficientnet.EfficientNet`, built from timm's
MobileNetV2 arch strings (``_gen_mobilenet_v2``: the same strings, stem, head, ReLU6 and
channel rounding as ``timm.create_model('mobilenetv2_100')``), so plain timm MobileNetV2
weights load unchanged and attention only adds keys.

Stages are the seven block groups ``blocks.0`` .. ``blocks.6`` (the rows of table 2 of the
MobileNetV2 paper, arXiv:1801.04381; ``blocks.0`` is the depthwise-separable block without
expansion). Where the attention goes inside a block (``attn_position``):

* ``'se'``: timm's SE slot, after the depthwise conv + BN + ReLU6, on the expanded width,
  before the pointwise-linear conv (``blocks.i.j.se``). Coordinate attention's authors put CA
  there (``mbv2_ca.py``: after the depthwise conv of every block with expansion, so not in
  ``blocks.0``); the EMA authors' timm fork adds ``ema`` at the same point of the blocks whose
  expanded width exceeds 144 (``attn_min_channels=145``). Every kind without a MobileNetV2
  placement of its own goes here, in every block (quadratic kinds: ``blocks.6`` only).
* ``'block_end'``: after the block's last BN (``bn3``; ``bn2`` of ``blocks.0``), before the
  residual addition: ECA's and Triplet attention's authors (``eca_mobilenetv2.py``,
  ``MODELS/mobilenet.py``), every block. The BN's identity activation is wrapped as
  :class:`~convattn_plugin.models.attention_factory.ActAttn` (``bn3.act.attn.*``), as ``add_attention`` does.
* ``'after_dw'``: after the depthwise conv, before its BN: SimAM's authors
  (``networks/imagenet/mobilenetv2.py``, lambda 0.1), every block (``conv_dw.attn``).
* ``'paper'`` (default): the kind's placement above, from :data:`PAPER_PLACEMENT`.

``timm.create_model('mobilenetv2_100_eca', attn_position='se', attn_stages=(4, 5, 6))`` overrides.
"""
from __future__ import annotations

from functools import partial
from typing import Any, Mapping, Optional, Sequence, Union

import torch
import torch.nn as nn
from timm.layers import BatchNormAct2d
from timm.models._efficientnet_blocks import DepthwiseSeparableConv, InvertedResidual
from timm.models._efficientnet_builder import decode_arch_def, round_channels
from timm.models.efficientnet import EfficientNet

from ..layers import list_attentions
from .attention_factory import ActAttn, build_attention, check_attn_kwargs, resolve_attn_stages
from .family import ModelFamily, register_family_kind

__all__ = [
    'ATTN_POSITIONS', 'MOBILENETV2_ARCHS', 'MOBILENETV2_FAMILY', 'PAPER_OPTIONS', 'PAPER_PLACEMENT', 'ConvThenAttn',
    'build_attn_mobilenetv2', 'describe_placement', 'register_mobilenetv2_kind',
]

# timm's _gen_mobilenet_v2 arch strings (the MobileNetV2 paper's table 2).
_ARCH_DEF = (
    ('ds_r1_k3_s1_c16',), ('ir_r2_k3_s2_e6_c24',), ('ir_r3_k3_s2_e6_c32',), ('ir_r4_k3_s2_e6_c64',),
    ('ir_r3_k3_s1_e6_c96',), ('ir_r3_k3_s2_e6_c160',), ('ir_r1_k3_s1_e6_c320',),
)
NUM_STAGES = len(_ARCH_DEF)

# The multipliers of timm's own mobilenetv2_* entry points.
MOBILENETV2_ARCHS: dict[str, dict[str, Any]] = {
    'mobilenetv2_035': dict(channel_multiplier=0.35),
    'mobilenetv2_050': dict(channel_multiplier=0.5),
    'mobilenetv2_075': dict(channel_multiplier=0.75),
    'mobilenetv2_100': dict(channel_multiplier=1.0),
    'mobilenetv2_140': dict(channel_multiplier=1.4),
    'mobilenetv2_110d': dict(channel_multiplier=1.1, depth_multiplier=1.2, fix_stem_head=True),
    'mobilenetv2_120d': dict(channel_multiplier=1.2, depth_multiplier=1.4, fix_stem_head=True),
}

ATTN_POSITIONS = ('se', 'block_end', 'after_dw', 'paper')
# kind -> (position, stages or None for the default, narrowest attention input or 0), from the
# authors' MobileNetV2 code; other kinds: ('se', None, 0).
PAPER_PLACEMENT: dict[str, tuple[str, Optional[tuple[int, ...]], int]] = {
    'coord': ('se', (1, 2, 3, 4, 5, 6), 0),   # mbv2_ca.py: every block with expansion
    'eca': ('block_end', None, 0),            # eca_mobilenetv2.py: after the last BN, every block
    'triplet': ('block_end', None, 0),        # MODELS/mobilenet.py: after the last BN, every block
    'simam': ('after_dw', None, 0),           # networks/imagenet/mobilenetv2.py: dw conv, SimAM, BN
    'ema': ('se', None, 145),                 # their timm fork: `ema` after `se` if mid_chs > 144
}
# Options of the authors' ImageNet models that differ from the kind's default (attn_position='paper').
PAPER_OPTIONS: dict[str, dict[str, Any]] = {
    'simam': dict(e_lambda=0.1),
    'coord': dict(rd_rounding='floor'),  # max(8, C // 32)
}

# timm's register_model reads each name's cfg from here; register_family_kind fills it.
default_cfgs: dict[str, Any] = {}


class ConvThenAttn(nn.Conv2d):
    """``attn(conv(x))``: a Conv2d whose output goes through ``attn``.

    It keeps the conv's own state-dict keys (``conv_dw.weight``); the attention's, if any, are
    added under ``attn.``, so plain MobileNetV2 weights still load.
    """

    def __init__(self, conv: nn.Conv2d, attn: nn.Module) -> None:
        if type(conv) is not nn.Conv2d:
            raise ValueError(f'ConvThenAttn wraps a plain nn.Conv2d, got {type(conv).__name__}')
        super().__init__(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                         conv.dilation, conv.groups, conv.bias is not None, conv.padding_mode,
                         device=conv.weight.device, dtype=conv.weight.dtype)
        self.load_state_dict(conv.state_dict())
        self.attn = attn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attn(self._conv_forward(x, self.weight, self.bias))


def _resolve_placement(kind: str, attn_position: str, attn_stages: Union[int, Sequence[int], None],
                       attn_min_channels: Optional[int], variant: str) -> tuple[str, tuple[int, ...], int]:
    """``(position, stages, min_channels)`` with ``'paper'`` resolved and the arguments checked."""
    if attn_position not in ATTN_POSITIONS:
        raise ValueError(f'{variant}: attn_position={attn_position!r} is not one of {ATTN_POSITIONS}')
    min_channels = 0
    if attn_position == 'paper':
        attn_position, paper_stages, min_channels = PAPER_PLACEMENT.get(kind, ('se', None, 0))
        attn_stages = paper_stages if attn_stages is None else attn_stages
    if attn_min_channels is not None:
        if isinstance(attn_min_channels, bool) or not isinstance(attn_min_channels, int) or attn_min_channels < 0:
            raise ValueError(f'{variant}: attn_min_channels must be an int >= 0, got {attn_min_channels!r}')
        min_channels = attn_min_channels
    return attn_position, resolve_attn_stages(kind, attn_stages, NUM_STAGES, variant), min_channels


def _span(stages: Sequence[int]) -> str:
    if len(stages) > 2 and list(stages) == list(range(stages[0], stages[-1] + 1)):
        return f'blocks.{stages[0]}-{stages[-1]}'
    return ', '.join(f'blocks.{s}' for s in stages)


_WHERE = {'se': 'in the SE slot (after the depthwise conv)', 'block_end': 'after the last BN',
          'after_dw': 'between the depthwise conv and its BN'}


def describe_placement(kind: str, attn_position: str = 'paper',
                       attn_stages: Union[int, Sequence[int], None] = None) -> str:
    """Where ``mobilenetv2_*_{kind}`` puts its attention, in words."""
    position, stages, min_channels = _resolve_placement(kind, attn_position, attn_stages, None, 'MobileNetV2')
    wider = f' wider than {min_channels - 1} channels' if min_channels else ''
    return f'every block{wider} of {_span(stages)}, {_WHERE[position]}'


def _stage_kwargs(attn_stage_kwargs: Any, variant: str) -> dict[int, dict]:
    """Per-stage options as ``{stage: dict}``; a dict keyed by stage index or a list of 7 dicts."""
    if attn_stage_kwargs is None:
        return {}
    if isinstance(attn_stage_kwargs, Sequence) and not isinstance(attn_stage_kwargs, (str, bytes)):
        attn_stage_kwargs = dict(enumerate(attn_stage_kwargs))
    if not isinstance(attn_stage_kwargs, Mapping) or not all(
            isinstance(s, int) and not isinstance(s, bool) and 0 <= s < NUM_STAGES for s in attn_stage_kwargs):
        raise ValueError(
            f'{variant}: attn_stage_kwargs must map stage indices 0..{NUM_STAGES - 1} to option dicts '
            f'(or be a list of {NUM_STAGES} dicts), e.g. {{4: dict(kernel_size=3)}}; got {attn_stage_kwargs!r}')
    return {s: check_attn_kwargs(o, f'{variant} stage {s}') for s, o in attn_stage_kwargs.items()}


def _efficientnet_kwargs(channel_multiplier: float, depth_multiplier: float, fix_stem_head: bool,
                         kwargs: dict[str, Any]) -> dict[str, Any]:
    """The arguments timm's ``_gen_mobilenet_v2`` gives ``EfficientNet`` (BN with torch's defaults)."""
    round_chs_fn = partial(round_channels, multiplier=channel_multiplier)
    return dict(
        block_args=decode_arch_def([list(s) for s in _ARCH_DEF], depth_multiplier=depth_multiplier,
                                   fix_first_last=fix_stem_head),
        num_features=1280 if fix_stem_head else max(1280, round_chs_fn(1280)),
        stem_size=32, fix_stem=fix_stem_head, round_chs_fn=round_chs_fn,
        norm_layer=kwargs.pop('norm_layer', None) or nn.BatchNorm2d,
        act_layer=kwargs.pop('act_layer', None) or nn.ReLU6,
        **kwargs,
    )


def build_attn_mobilenetv2(
        attn_kind: str,
        attn_stages: Union[int, Sequence[int], None] = None,
        attn_kwargs: Optional[dict[str, Any]] = None,
        variant: str = 'MobileNetV2',
        attn_stage_kwargs: Optional[Mapping[int, Mapping[str, Any]]] = None,
        attn_position: str = 'paper',
        attn_min_channels: Optional[int] = None,
        channel_multiplier: float = 1.0,
        depth_multiplier: float = 1.0,
        fix_stem_head: bool = False,
        **kwargs: Any,
) -> EfficientNet:
    """timm's MobileNetV2 (``EfficientNet``) with ``attn_kind`` where its authors put it, or as asked.

    Attention is set after construction, so timm's weight init leaves the kinds' own alone.

    Args:
        attn_kind: Registered attention kind.
        attn_stages: Block groups 0..6 that get attention; ``None``: the paper's, else all
            (quadratic kinds: 6).
        attn_kwargs: Options of the kind, checked for every block; with ``'paper'`` over
            :data:`PAPER_OPTIONS`.
        variant: Model name for error messages.
        attn_stage_kwargs: Options for single stages over ``attn_kwargs`` (``{stage: dict}`` or 7 dicts).
        attn_position: ``'paper'``, ``'se'``, ``'block_end'`` or ``'after_dw'`` (module docstring).
        attn_min_channels: Skip blocks whose attention input is narrower; ``None``: the paper's
            (145 for ``ema``, else 0).
        channel_multiplier, depth_multiplier, fix_stem_head: timm's ``_gen_mobilenet_v2`` arguments.
        **kwargs: Arguments of timm's ``EfficientNet`` (``num_classes``, ``drop_rate``, ...).
    """
    options = check_attn_kwargs(attn_kwargs, variant)
    per_stage = _stage_kwargs(attn_stage_kwargs, variant)
    if attn_position == 'paper':
        options = {**PAPER_OPTIONS.get(attn_kind, {}), **options}
    position, stages, min_channels = _resolve_placement(attn_kind, attn_position, attn_stages,
                                                        attn_min_channels, variant)
    model = EfficientNet(**_efficientnet_kwargs(channel_multiplier, depth_multiplier, fix_stem_head, kwargs))
    options = {'device': kwargs.get('device'), 'dtype': kwargs.get('dtype'), **options}
    for s in stages:
        stage_options = {**options, **per_stage.get(s, {})}
        for b, block in enumerate(model.blocks[s]):
            if not isinstance(block, (DepthwiseSeparableConv, InvertedResidual)):
                raise ValueError(f'{variant}: blocks.{s}.{b} is a {type(block).__name__}, not a MobileNetV2 block')
            name = f'blocks.{s}.{b}'
            if position == 'block_end':
                norm = block.bn3 if isinstance(block, InvertedResidual) else block.bn2
                norm_name = 'bn3' if isinstance(block, InvertedResidual) else 'bn2'
                channels = norm.num_features
            else:
                channels = block.conv_dw.out_channels
            if channels < min_channels:
                continue
            if position == 'se':
                where = f'{variant} stage {s} ({name}.se, {channels} channels)'
                block.se = build_attention(attn_kind, channels, where, **stage_options)
            elif position == 'block_end':
                if not isinstance(norm, BatchNormAct2d) or not isinstance(norm.act, nn.Identity):
                    raise ValueError(f'{variant}: {name}.{norm_name} does not end the branch without activation')
                where = f'{variant} stage {s} ({name}.{norm_name}.act.attn, {channels} channels)'
                norm.act = ActAttn(norm.act, build_attention(attn_kind, channels, where, **stage_options))
            else:
                where = f'{variant} stage {s} ({name}.conv_dw.attn, {channels} channels)'
                block.conv_dw = ConvThenAttn(block.conv_dw, build_attention(attn_kind, channels, where,
                                                                            **stage_options))
    return model


MOBILENETV2_FAMILY = ModelFamily(
    name='MobileNetV2',
    module=__name__,
    archs=MOBILENETV2_ARCHS,
    build=build_attn_mobilenetv2,
    num_stages=NUM_STAGES,
    placement='in the MobileNetV2',
    last_stage='blocks.6',
    describe_placement=describe_placement,
    extra_doc="``attn_position='se'`` puts any kind in timm's SE slot of every block instead.",
    backbone_arxiv='1801.04381',
    cfg=dict(first_conv='conv_stem', classifier='classifier'),
    build_kwargs=dict(feature_cfg=dict(flatten_sequential=True)),
)


def register_mobilenetv2_kind(kind: str) -> list[str]:
    """Register ``mobilenetv2_*_{kind}`` into timm (for a kind registered later)."""
    return register_family_kind(MOBILENETV2_FAMILY, kind)


for _kind in list_attentions():
    register_mobilenetv2_kind(_kind)
