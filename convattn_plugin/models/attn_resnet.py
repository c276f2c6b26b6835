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
"""
from __future__ import annotations

from functools import partial
from typing import Any, Callable, Optional, Sequence, Union

from timm.models import build_model_with_cfg
from timm.models.resnet import BasicBlock, Bottleneck, ResNet

from ..layers import get_attn_info, list_attentions
from ._factory import attn_cfg, register_kind
from .inject import build_attention, resolve_attn_stages

__all__ = ['RESNET_ARCHS', 'register_resnet_kind']

# The arguments of timm's own resnet18..resnet152 entry points.
RESNET_ARCHS: dict[str, dict[str, Any]] = {
    'resnet18': dict(block=BasicBlock, layers=(2, 2, 2, 2)),
    'resnet34': dict(block=BasicBlock, layers=(3, 4, 6, 3)),
    'resnet50': dict(block=Bottleneck, layers=(3, 4, 6, 3)),
    'resnet101': dict(block=Bottleneck, layers=(3, 4, 23, 3)),
    'resnet152': dict(block=Bottleneck, layers=(3, 8, 36, 3)),
}
NUM_STAGES = 4

# timm's register_model reads each name's cfg from here; register_kind fills it.
default_cfgs: dict[str, Any] = {}


def _attn_resnet(
        attn_kind: str,
        attn_stages: Union[int, Sequence[int], None] = None,
        attn_kwargs: Optional[dict[str, Any]] = None,
        variant: str = 'ResNet',
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
        **kwargs: Arguments of timm's ``ResNet``.
    """
    model = ResNet(**kwargs)
    options = {'device': kwargs.get('device'), 'dtype': kwargs.get('dtype'), **(attn_kwargs or {})}
    for s in resolve_attn_stages(attn_kind, attn_stages, NUM_STAGES, variant):
        channels = model.feature_info[s + 1]['num_chs']
        for b, block in enumerate(getattr(model, f'layer{s + 1}')):
            where = f'{variant} stage {s} (layer{s + 1}.{b}, {channels} channels)'
            block.se = build_attention(attn_kind, channels, where, **options)
            if hasattr(block.se, 'inplace'):
                # The gate's input is bn3's fresh output, read by nothing else: in inference
                # the gate may overwrite it instead of allocating a new feature map.
                block.se.inplace = True
    return model


def _create_attn_resnet(variant: str, pretrained: bool = False, **kwargs: Any) -> ResNet:
    return build_model_with_cfg(partial(_attn_resnet, variant=variant), variant, pretrained, **kwargs)


def _cfg(kind: str) -> dict[str, Any]:
    return attn_cfg(kind, '1512.03385', first_conv='conv1', classifier='fc')


def _entrypoint(arch: str, kind: str) -> Callable[..., ResNet]:
    name = f'{arch}_{kind}'

    def entrypoint(pretrained: bool = False, **kwargs: Any) -> ResNet:
        model_args = dict(RESNET_ARCHS[arch], attn_kind=kind)
        return _create_attn_resnet(name, pretrained, **dict(model_args, **kwargs))

    info = get_attn_info(kind)
    stages = 'stage 3 (layer4) only, its cost being quadratic' if info.quadratic else 'every stage'
    entrypoint.__doc__ = (
        f'{arch} with {info.paper or kind} attention in the residual blocks of {stages}.\n\n'
        'Keyword args ``attn_stages`` (0..3) and ``attn_kwargs`` override the placement and options.')
    return entrypoint


def register_resnet_kind(kind: str) -> list[str]:
    """Register ``resnet{18,34,50,101,152}_{kind}`` into timm (for a kind registered later)."""
    return register_kind(__name__, RESNET_ARCHS, kind, _entrypoint, _cfg)


for _kind in list_attentions():
    register_resnet_kind(_kind)
