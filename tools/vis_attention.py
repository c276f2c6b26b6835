"""Where attention looks: every attention module's gates over an image, and Grad-CAM.

    python tools/vis_attention.py                                 # resnet50_cbam, china.jpg
    python tools/vis_attention.py --model resnet50+se --image flower --out se.png
    python tools/vis_attention.py --model resnet50_cbam --checkpoint work_dirs/x/best.pth

Spatial gates are drawn as heat maps over the image, channel gates as bar charts, one
panel per stage (see ``convattn_plugin/analysis/attention_maps.py`` for what is drawn
for each kind). Without ``--checkpoint`` the weights are random: the maps then show
what an untrained network's gates respond to (edges and colour contrast), not learned
attention.
"""
from __future__ import annotations

import argparse
import os
import sys

import torch
from timm.models import load_state_dict

from convattn_plugin.analysis.attention_maps import (
    capture_attention, grad_cam, load_image, plot_attention, to_input,
)
from convattn_plugin.analysis.benchmark import build_model, parse_model
from convattn_plugin.checkpoint import check_hash_in_name
from convattn_plugin.models.pretrained import diff_state_dict


def load_checkpoint(model: torch.nn.Module, path: str) -> None:
    """Load a checkpoint made for ``model`` (plain, or under ``state_dict`` / ``model``).

    The sha256 prefix in a published file's name is checked and the file is read with
    ``weights_only=True`` (or as safetensors). A checkpoint that does not fit the model
    exactly is refused, with every missing, unexpected and shape-mismatched key.
    """
    check_hash_in_name(path)
    state_dict = load_state_dict(path, weights_only=True)
    report = diff_state_dict(model.state_dict(), state_dict)
    if report.missing_keys or report.unexpected_keys or report.mismatched_keys:
        raise SystemExit(f'{path} does not fit {type(model).__name__}:\n{report}')
    model.load_state_dict(state_dict)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument('--model', default='resnet50_cbam',
                   help='timm name (resnet50_cbam), ARCH+KIND (ours in timm\'s ARCH) or ARCH+timm:KIND (timm\'s own)')
    p.add_argument('--image', default=None, help='image file, or "china" / "flower" (scikit-learn\'s; default china)')
    p.add_argument('--img-size', type=int, default=224)
    p.add_argument('--checkpoint', default=None, help='weights to load (state dict)')
    p.add_argument('--num-classes', type=int, default=1000)
    p.add_argument('--target-class', type=int, default=None, help='Grad-CAM class (default: the top prediction)')
    p.add_argument('--no-cam', action='store_true', help='skip Grad-CAM')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out', default='outputs/attention_maps.png')
    args = p.parse_args(argv)

    import timm
    import convattn_plugin  # noqa: F401 - registers our models into timm

    torch.manual_seed(args.seed)
    spec = parse_model(args.model)
    if args.checkpoint is None and 'resnet' in spec.arch:
        # timm zero-initialises each block's last BN: untrained, every gate would see zeros.
        kwargs = dict(num_classes=args.num_classes, zero_init_last=False)
        if spec.attn_layer is not None:
            kwargs['block_args'] = dict(attn_layer=spec.attn_layer)
        model = timm.create_model(spec.arch, **kwargs)
    else:
        model = build_model(spec, num_classes=args.num_classes)
    if args.checkpoint:
        load_checkpoint(model, args.checkpoint)
    model.eval()

    cfg = timm.data.resolve_data_config({}, model=model)
    image = load_image(args.image, args.img_size)
    x = to_input(image, cfg.get('mean', (0.485, 0.456, 0.406)), cfg.get('std', (0.229, 0.224, 0.225)))
    maps = capture_attention(model, x)
    if not maps:
        print(f'{args.model}: no attention module found', file=sys.stderr)
    cam, label = None, 'Grad-CAM'
    if not args.no_cam:
        cam, cls = grad_cam(model, x, target_class=args.target_class)
        label = f'Grad-CAM (last stage, class {cls})'
    weights = f'weights {args.checkpoint}' if args.checkpoint else 'random weights'
    title = f'{args.model}, {weights}, image {args.image or "china.jpg (scikit-learn)"}, {args.img_size} px'
    os.makedirs(os.path.dirname(args.out) or '.', exist_ok=True)
    plot_attention(maps, image, args.out, cam=cam, title=title, cam_label=label)
    n_mod = len({m.module for m in maps})
    print(f'{n_mod} attention modules, {len(maps)} maps '
          f'({sum(m.kind == "spatial" for m in maps)} spatial, {sum(m.kind == "channel" for m in maps)} channel); '
          f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
