"""The model table of docs/timm_models.md: params and GFLOPs of every family, the plain backbone beside.

One table per family (``resnet{18,34,50,101,152}_{kind}`` and ``resnext50_32x4d_{kind}``,
``vgg{11,13,16,19}[_bn]_{kind}``),
one row per attention kind, figures for one backbone of the family. FLOPs come from
:func:`convattn_plugin.flops.flop_breakdown` (attention operators included; one
multiply-add is 2 FLOPs: timm and torchvision list GMACs, half the convolution part).
"""
from __future__ import annotations

import re
import warnings
from typing import Sequence

import torch.nn as nn

from ..layers import get_attn_info, list_attentions
from ..flops import FlopCount, flop_breakdown

__all__ = ['measure_model', 'family_table', 'model_tables', 'FOOTNOTE']

FOOTNOTE = ('GFLOPs count one multiply-add as 2 FLOPs and include every element-wise operator of the '
            'attention (gates, pooling, softmax); "attention GFLOPs" is the part inside the attention modules. '
            'ResNet: where each kind\'s paper puts it (the models\' default); VGG stages 0-4 = the five conv stages. '
            '"Pretrained": tags with the authors\' ImageNet-1k weights (depth, or another backbone by name: top-1 % as '
            'reported by the authors, not measured here; timm\'s own table for SE).')


def measure_model(name: str, img_size: int) -> tuple[int, FlopCount]:
    """Params and FLOPs of ``timm.create_model(name)`` in eval mode, one image.

    Built on the ``meta`` device (shapes only: a second for the whole table); a model whose
    forward the meta device cannot run (the quadratic kinds compute attention with autocast
    off, which 'meta' lacks) is built and counted for real.
    """
    import timm

    import convattn_plugin  # noqa: F401 - registers the models

    size = (1, 3, img_size, img_size)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)  # torch's notices about meta tensors
        try:
            model: nn.Module = timm.create_model(name, device='meta').eval()
            flops = flop_breakdown(model, size)
        except RuntimeError:
            model = timm.create_model(name).eval()
            flops = flop_breakdown(model, size, on_meta=False)
    return sum(p.numel() for p in model.parameters()), flops


def _stages(family: str, kind: str) -> str:
    if family == 'resnet':  # each kind's paper placement (the models' default)
        from ..models.attn_resnet import describe_placement
        return describe_placement(kind)
    num_stages = 5
    return f'{num_stages - 1}' if get_attn_info(kind).quadratic else f'0-{num_stages - 1}'


def _arch_label(arch: str) -> str:
    """``'resnet50'`` -> ``'50'`` (the depth), another backbone by its name (``'resnext50_32x4d'``)."""
    depth = re.fullmatch(r'resnet(\d+)', arch)
    return depth.group(1) if depth else arch


def _pretrained(archs: Sequence[str], kind: str) -> str:
    """Backbones of ``archs`` whose ``{arch}_{kind}`` has published weights, with their reported top-1:
    ``'18: 70.92, 50: 77.42'`` (a ResNet by its depth, another backbone by name: ``'resnext50_32x4d: 78.00'``)."""
    from ..models.published_weights import get_published, list_published

    found = []
    for name in list_published():
        entry = get_published(name)
        arch, _, entry_kind = entry.model.rpartition('_')  # kinds have no '_', backbones may (resnext50_32x4d)
        if entry_kind == kind and arch in archs and entry.top1 is not None:
            found.append((list(archs).index(arch), _arch_label(arch), entry.tag, entry.top1))
    labels = [label for _, label, _, _ in found]
    # A backbone with several tags (triplet's k = 7 and k = 3) names each tag.
    return ', '.join(f'{label}: {top1:.2f}' if labels.count(label) == 1 else f'{label} `{tag}`: {top1:.2f}'
                     for _, label, tag, top1 in sorted(found)) or '-'


def _names_pattern(archs: Sequence[str]) -> str:
    """``'`resnet{18,34,50,101,152}_{kind}`, `resnext50_32x4d_{kind}`'``: the family's names in one line."""
    depths = [_arch_label(a) for a in archs if _arch_label(a) != a]
    others = [f'`{a}_{{kind}}`' for a in archs if _arch_label(a) == a]
    return ', '.join(([f'`resnet{{{",".join(depths)}}}_{{kind}}`'] if depths else []) + others)


def family_table(backbone: str, img_size: int = 224) -> list[str]:
    """Markdown lines for ``{backbone}_{kind}``, every kind, with the plain backbone as the first row."""
    from ..models import RESNET_ARCHS, VGG_ARCHS

    if backbone not in (*RESNET_ARCHS, *VGG_ARCHS):
        raise ValueError(f'backbone must be one of {[*RESNET_ARCHS, *VGG_ARCHS]}, got {backbone!r}')
    family = 'resnet' if backbone in RESNET_ARCHS else 'vgg'
    pattern = (_names_pattern(list(RESNET_ARCHS)) if family == 'resnet'
               else '`vgg{11,13,16,19}_{kind}`, `vgg{11,13,16,19}_bn_{kind}`')
    plain_params, plain = measure_model(backbone, img_size)
    lines = [
        f'{pattern}, figures for `{backbone}_{{kind}}` at {img_size} px:',
        '',
        '| model | attention placement | params (M) | vs plain | GFLOPs | vs plain | attention GFLOPs |'
        + (' pretrained (reported top-1) |' if family == 'resnet' else ''),
        '|---|---|---:|---:|---:|---:|---:|' + ('---|' if family == 'resnet' else ''),
        f'| `{backbone}` (plain) | - | {plain_params / 1e6:.2f} | | {plain.total / 1e9:.2f} | | 0 |'
        + (' - |' if family == 'resnet' else ''),
    ]
    for kind in list_attentions():
        params, flops = measure_model(f'{backbone}_{kind}', img_size)
        lines.append(
            f'| `{backbone}_{kind}` | {_stages(family, kind)} | {params / 1e6:.2f} | '
            f'{(params - plain_params) / plain_params:+.1%} | {flops.total / 1e9:.2f} | '
            f'{(flops.total - plain.total) / plain.total:+.1%} | {flops.attention / 1e9:.3f} |'
            + (f' {_pretrained(list(RESNET_ARCHS), kind)} |' if family == 'resnet' else ''))
    return lines


def model_tables(backbones=('resnet50', 'vgg16'), img_size: int = 224) -> str:
    """Every family's table and the footnote, as docs/timm_models.md shows them."""
    if isinstance(img_size, bool) or not isinstance(img_size, int) or img_size < 1:
        raise ValueError(f'img_size must be a positive int, got {img_size!r}')
    blocks = ['\n'.join(family_table(b, img_size)) for b in backbones]
    return '\n\n'.join(blocks + [FOOTNOTE])
