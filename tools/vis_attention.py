"""Where attention looks: every attention module's gates over an image, and Grad-CAM.

    python tools/vis_attention.py                                   # resnet50_cbam, random weights
    python tools/vis_attention.py --model resnet50+se --image flower --out se.png
    python tools/vis_attention.py --checkpoint work_dirs/resnet18-cbam_1xb32_digits/epoch_10.pth \
        --config configs/resnet_cbam/resnet18-cbam_1xb32_digits.py
    python tools/vis_attention.py --checkpoint releases/resnet18-cbam_digits        # a release folder

--checkpoint takes a training checkpoint (with --config), a published release (its folder,
its timm folder or its .pth) or a state dict of --model. Spatial gates are drawn as heat
maps over the image, channel gates as bar charts, one row per stage, each labelled by kind,
block and role (e.g. "cbam layer1.0 spatial"); Grad-CAM uses the deepest stage that still
has 4x4 positions at the input size. Without --checkpoint the weights are random: the maps
then show what an untrained network's gates respond to, not learned attention. Needs the
tools extra: pip install "convattn_plugin[tools]".
"""
from __future__ import annotations

import argparse
import sys


def parse_args(argv=None) -> argparse.Namespace:
    doc = __doc__.split('\n', 1)
    p = argparse.ArgumentParser(description=doc[0], epilog=doc[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--model', default='resnet50_cbam',
                   help='timm name (resnet50_cbam), ARCH+KIND (ours in timm\'s ARCH) or ARCH+timm:KIND (timm\'s own)')
    p.add_argument('--image', default=None, help='image file, or "china" / "flower" (scikit-learn\'s; default china)')
    p.add_argument('--img-size', type=_positive, default=None,
                   help='input size (default: the size the checkpoint was trained at, else 224)')
    p.add_argument('--checkpoint', default=None,
                   help='training checkpoint (with --config), release folder / timm folder / release .pth, '
                        'or a state dict of --model')
    p.add_argument('--config', default=None, help='the mmpretrain config a training checkpoint was trained with')
    p.add_argument('--num-classes', type=_positive, default=1000, help='classes of --model (state dicts, random)')
    p.add_argument('--target-class', type=int, default=None, help='Grad-CAM class (default: the top prediction)')
    p.add_argument('--no-cam', action='store_true', help='skip Grad-CAM')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out', default='outputs/attention_maps.png')
    return p.parse_args(argv)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f'must be a positive integer, got {text!r}')
    return int(text)


def main(argv=None) -> int:
    args = parse_args(argv)
    from convattn_plugin.analysis.map_weights import WeightsError
    from convattn_plugin.analysis.attention_plot import draw_attention_maps

    try:
        print(draw_attention_maps(args.model, args.image, args.img_size, args.checkpoint, args.config,
                                  args.num_classes, args.target_class, not args.no_cam, args.seed, args.out))
    except (WeightsError, ImportError, ValueError, OSError) as e:  # refused weights name the file and the reason
        print(f'error: {e}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
