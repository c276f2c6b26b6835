"""Train a small detector and a small segmenter on a plain and an attention backbone; print mAP and mIoU.

The data is real and labelled, read from two wheels downloaded once (nothing of them is
installed or imported)::

    pip download --no-deps deepforest==2.1.0 stardist==0.9.2 -d data/wheels
    OMP_NUM_THREADS=1 python tools/dense_compare.py data/wheels --backbones resnet18 resnet18_cbam \\
        --det-steps 300 --seg-steps 300 --out dense_compare.json

Detection: torchvision Faster R-CNN with an FPN, trees in deepforest's aerial images (train on
one image's tiles, test on another's). Segmentation: smp Unet, stardist's nuclei (train on the
left three quarters, test on the right quarter). See convattn_plugin.dense_compare.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

import convattn_plugin  # noqa: F401  (registers resnet18_cbam, ...)
from convattn_plugin.dense_compare import run_detection, run_segmentation


def _table(rows: list[dict]) -> str:
    lines = ['| task | backbone | seed | steps | params (M) | train s | mAP | mAP@0.5 | mIoU | nucleus IoU '
             '| loss first -> last |', '|---|---|---|---|---|---|---|---|---|---|---|']
    for r in rows:
        f = lambda k: f'{r[k]:.3f}' if k in r else '-'  # noqa: E731
        lines.append(f"| {r['task']} | {r['backbone']} | {r['seed']} | {r['steps']} | {r['params_m']} | "
                     f"{r['train_s']} | {f('map')} | {f('map_50')} | {f('miou')} | {f('iou_nucleus')} | "
                     f"{r['loss_first']:.3f} -> {r['loss_last']:.3f} |")
    return '\n'.join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('data', type=Path, help='folder with the deepforest 2.1.0 and stardist 0.9.2 wheels')
    parser.add_argument('--backbones', nargs='+', default=['resnet18', 'resnet18_cbam'],
                        help='timm ResNet names (default: resnet18 resnet18_cbam)')
    parser.add_argument('--tasks', nargs='+', choices=['detection', 'segmentation'],
                        default=['detection', 'segmentation'])
    parser.add_argument('--det-steps', type=int, default=300, help='detector training batches (default 300)')
    parser.add_argument('--seg-steps', type=int, default=300, help='segmenter training batches (default 300)')
    parser.add_argument('--det-scale', type=float, default=0.5,
                        help='resize factor of the aerial images before tiling (default 0.5)')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0], help='seeds (default 0)')
    parser.add_argument('--threads', type=int, default=None, help='torch intra-op threads (default: torch\'s)')
    parser.add_argument('--out', type=Path, default=None, help='also write the rows to this JSON file')
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        parser.error(f'{args.data} is not a folder; get the data with: '
                     f'pip download --no-deps deepforest==2.1.0 stardist==0.9.2 -d {args.data}')
    if min(args.det_steps, args.seg_steps) < 1:
        parser.error('--det-steps and --seg-steps must be at least 1')
    if args.threads:
        torch.set_num_threads(args.threads)

    rows = []
    for seed in args.seeds:
        for task in args.tasks:
            for name in args.backbones:
                print(f'== {task} {name} seed {seed}', flush=True)
                log = lambda line: print(f'   {line}', flush=True)  # noqa: E731
                row = (run_detection(args.data, name, args.det_steps, seed=seed, scale=args.det_scale, log=log)
                       if task == 'detection'
                       else run_segmentation(args.data, name, args.seg_steps, seed=seed, log=log))
                row['threads'] = torch.get_num_threads()
                print(json.dumps(row), flush=True)
                rows.append(row)
                if args.out:
                    args.out.write_text(json.dumps(rows, indent=1) + '\n')
    print(_table(rows))
    return 0


if __name__ == '__main__':
    sys.exit(main())
