"""Backbone presets by name: ``dict(type='ConvAttnBackbone', arch='resnet18_cbam')``.

A preset name is ``resnet{depth}[_{kind}]`` or ``vgg{depth}[_bn][_{kind}]`` (the same
spelling as the project's timm models): ``resnet18_cbam``, ``resnet50_se``,
``vgg16_localattn``, ``vgg16_bn_eca``; without a kind it is the plain network
(``resnet18``, ``vgg16_bn``). :func:`list_presets` lists every valid name.
"""
from __future__ import annotations

import re
from typing import Any, Optional, Union

from ..layers import list_attentions
from .backbones import ConvAttnResNet, ConvAttnVGG

__all__ = ['ConvAttnBackbone', 'parse_preset', 'list_presets']

_PATTERN = re.compile(r'^(?P<family>resnet|vgg)(?P<depth>\d+)(?P<bn>_bn)?(?:_(?P<kind>[a-z0-9_]+))?$')


def _grammar() -> str:
    return (f'valid presets are resnet{{{",".join(map(str, ConvAttnResNet.depths))}}}[_KIND] and '
            f'vgg{{{",".join(map(str, ConvAttnVGG.depths))}}}[_bn][_KIND] with KIND one of: '
            f'{", ".join(list_attentions())} (see convattn_plugin.mm.list_presets())')


def parse_preset(arch: str) -> tuple[type, dict[str, Any]]:
    """Split a preset name into the backbone class and its arguments.

    Raises:
        ValueError: for an unknown family, depth or kind, naming the valid choices.
    """
    m = _PATTERN.match(arch) if isinstance(arch, str) else None
    if m is None:
        raise ValueError(f'unknown backbone preset {arch!r}; {_grammar()}')
    family, depth, bn, kind = m['family'], int(m['depth']), m['bn'], m['kind']
    cls = ConvAttnResNet if family == 'resnet' else ConvAttnVGG
    if depth not in cls.depths:
        raise ValueError(f'unknown backbone preset {arch!r}: depth {depth} is not one of {cls.depths}; {_grammar()}')
    if bn and family != 'vgg':
        raise ValueError(f'unknown backbone preset {arch!r}: only VGG has _bn variants; {_grammar()}')
    if kind is not None and kind not in list_attentions():
        raise ValueError(f'unknown backbone preset {arch!r}: unknown attention kind {kind!r}; {_grammar()}')
    kwargs: dict[str, Any] = dict(depth=depth, attention=kind)
    if family == 'vgg':
        kwargs['with_bn'] = bool(bn)
    return cls, kwargs


def list_presets(family: Optional[str] = None) -> list[str]:
    """Every valid preset name (of ``family`` ``'resnet'`` or ``'vgg'`` if given)."""
    names = []
    kinds = [None] + list_attentions()
    if family in (None, 'resnet'):
        names += [f'resnet{d}' + (f'_{k}' if k else '') for d in ConvAttnResNet.depths for k in kinds]
    if family in (None, 'vgg'):
        names += [f'vgg{d}{bn}' + (f'_{k}' if k else '')
                  for d in ConvAttnVGG.depths for bn in ('', '_bn') for k in kinds]
    return names


def ConvAttnBackbone(arch: str, **kwargs: Any) -> Union[ConvAttnResNet, ConvAttnVGG]:  # noqa: N802 (a registry type)
    """Build the backbone of preset ``arch``; ``kwargs`` go to its class.

    ``dict(type='ConvAttnBackbone', arch='resnet18_cbam', out_indices=(3,))`` builds
    ``ConvAttnResNet(depth=18, attention='cbam', out_indices=(3,))``.
    """
    cls, preset = parse_preset(arch)
    clash = sorted(set(preset) & set(kwargs))
    if clash:
        raise ValueError(f'ConvAttnBackbone(arch={arch!r}) sets {clash} itself; '
                         f'use type={cls.__name__!r} to choose them freely')
    return cls(**preset, **kwargs)
