"""Write the packaged real images as an mmdet COCO data set (trees) and an mmseg folder data set (nuclei).

    pip download --no-deps deepforest==2.1.0 stardist==0.9.2 -d data/wheels
    python tools/mm_dense_data.py data/wheels data/

writes ``data/trees_coco/`` (what ``configs/faster_rcnn_attn/*_trees.py`` read) and
``data/nuclei_seg/`` (what ``configs/upernet_attn/*_nuclei-64x64.py`` read). See
convattn_plugin.mm.dense_datasets.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from convattn_plugin.mm.dense_datasets import write_coco_trees, write_seg_nuclei


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('wheels', type=Path, help='folder with the deepforest 2.1.0 and stardist 0.9.2 wheels')
    parser.add_argument('out', type=Path, help='folder to write trees_coco/ and nuclei_seg/ into')
    parser.add_argument('--overwrite', action='store_true', help='write into non-empty trees_coco/ and nuclei_seg/')
    args = parser.parse_args(argv)
    if not args.wheels.is_dir():
        parser.error(f'{args.wheels} is not a folder; get the data with: '
                     f'pip download --no-deps deepforest==2.1.0 stardist==0.9.2 -d {args.wheels}')
    try:
        trees = write_coco_trees(args.wheels, args.out / 'trees_coco', overwrite=args.overwrite)
        nuclei = write_seg_nuclei(args.wheels, args.out / 'nuclei_seg', overwrite=args.overwrite)
    except (OSError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    for split, n in trees.items():
        print(f'{args.out / "trees_coco"}: {split}: {n["images"]} tiles, {n["boxes"]} boxes')
    for split, n in nuclei.items():
        print(f'{args.out / "nuclei_seg"}: {split}: {n} images')
    return 0


if __name__ == '__main__':
    sys.exit(main())
