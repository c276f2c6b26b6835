"""Print the model table of docs/timm_models.md: params and GFLOPs of every family, plain backbone beside.

    python tools/model_table.py [--backbones resnet50 vgg16] [--img-size 224]

One table per family, one row per attention kind; FLOPs include the attention's element-wise
operators (gates, pooling, softmax), one multiply-add = 2 FLOPs. Method:
convattn_plugin/analysis/model_table.py.
"""
from __future__ import annotations

import argparse
import sys


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f'must be a positive integer, got {text!r}')
    return int(text)


def main(argv=None) -> int:
    doc = __doc__.split('\n', 1)
    p = argparse.ArgumentParser(description=doc[0], epilog=doc[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--backbones', nargs='+', default=['resnet50', 'vgg16'],
                   help='one backbone per table: resnet18..152, resnext50_32x4d, vgg11..19, vgg11_bn..vgg19_bn')
    p.add_argument('--img-size', type=_positive, default=224, help='input size in pixels (a positive int)')
    args = p.parse_args(argv)
    from convattn_plugin.analysis.model_table import model_tables

    print(model_tables(args.backbones, args.img_size))
    return 0


if __name__ == '__main__':
    sys.exit(main())
