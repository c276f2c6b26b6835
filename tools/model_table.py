"""Print the README's model table: params and GFLOPs of every family, plain backbone beside.

    python tools/model_table.py [--backbones resnet50 vgg16] [--img-size 224]

One table per family (``resnet{18,34,50,101,152}_{kind}``, ``vgg{11,13,16,19}[_bn]_{kind}``),
one row per attention kind, figures for one backbone of the family. FLOPs come from
:func:`convattn_plugin.analysis.flops.flop_breakdown`, which counts the attention's
element-wise operators (sigmoid, mul, mean, amax, softmax, ...) as well as convolutions
and matrix products; one multiply-add is 2 FLOPs (timm and torchvision list GMACs:
half the convolution part).
"""
from __future__ import annotations

import argparse
import warnings

import timm

import convattn_plugin  # noqa: F401  (registers the models)
from convattn_plugin.analysis.flops import FlopCount, flop_breakdown
from convattn_plugin.layers import get_attn_info, list_attentions
from convattn_plugin.models import RESNET_ARCHS, VGG_ARCHS


def _measure(name: str, img_size: int) -> tuple[int, FlopCount]:
    """Params and FLOPs of ``timm.create_model(name)`` in eval mode, one image."""
    size = (1, 3, img_size, img_size)
    try:
        # Shapes only: a second, not minutes, for the whole table.
        model = timm.create_model(name, device='meta').eval()
        flops = flop_breakdown(model, size)
    except RuntimeError:
        # The quadratic kinds compute attention under autocast(enabled=False), which the
        # meta device does not support: count those on a real model.
        model = timm.create_model(name).eval()
        flops = flop_breakdown(model, size, on_meta=False)
    return sum(p.numel() for p in model.parameters()), flops


def _stages(family: str, kind: str) -> str:
    num_stages = 4 if family == 'resnet' else 5
    return f'{num_stages - 1}' if get_attn_info(kind).quadratic else f'0-{num_stages - 1}'


def family_table(backbone: str, img_size: int) -> list[str]:
    """Markdown lines for ``{backbone}_{kind}``, every kind, with the plain backbone as the first row."""
    family = 'resnet' if backbone in RESNET_ARCHS else 'vgg'
    pattern = ('`resnet{18,34,50,101,152}_{kind}`' if family == 'resnet'
               else '`vgg{11,13,16,19}_{kind}`, `vgg{11,13,16,19}_bn_{kind}`')
    plain_params, plain = _measure(backbone, img_size)
    lines = [
        f'{pattern}, figures for `{backbone}_{{kind}}` at {img_size} px:',
        '',
        '| model | attention in stages | params (M) | vs plain | GFLOPs | vs plain | attention GFLOPs |',
        '|---|---|---:|---:|---:|---:|---:|',
        f'| `{backbone}` (plain) | - | {plain_params / 1e6:.2f} | | {plain.total / 1e9:.2f} | | 0 |',
    ]
    for kind in list_attentions():
        params, flops = _measure(f'{backbone}_{kind}', img_size)
        lines.append(
            f'| `{backbone}_{kind}` | {_stages(family, kind)} | {params / 1e6:.2f} | '
            f'+{(params - plain_params) / plain_params:.1%} | {flops.total / 1e9:.2f} | '
            f'+{(flops.total - plain.total) / plain.total:.1%} | {flops.attention / 1e9:.3f} |')
    return lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--backbones', nargs='+', default=['resnet50', 'vgg16'],
                        choices=[*RESNET_ARCHS, *VGG_ARCHS], help='one backbone per table')
    parser.add_argument('--img-size', type=int, default=224, help='input size in pixels')
    args = parser.parse_args(argv)
    warnings.filterwarnings('ignore', category=UserWarning)  # meta-device notices from torch
    for i, backbone in enumerate(args.backbones):
        if i:
            print()
        print('\n'.join(family_table(backbone, args.img_size)))
    print()
    print('GFLOPs count one multiply-add as 2 FLOPs and include every element-wise operator of the '
          'attention (gates, pooling, softmax); "attention GFLOPs" is the part inside the attention modules. '
          'Stages: ResNet 0-3 = layer1-layer4, VGG 0-4 = the five conv stages.')


if __name__ == '__main__':
    main()
