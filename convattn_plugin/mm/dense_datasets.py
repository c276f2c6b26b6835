"""The packaged real images as the files mmdet's and mmseg's own dataset classes read.

:mod:`convattn_plugin.packaged_data` reads deepforest's tree boxes and stardist's nuclei masks
(real, labelled images shipped inside two wheels) and cuts them into tiles. This module writes
those same tiles to disk in the two layouts OpenMMLab reads with its own classes, so the
``configs/*/..._trees.py`` and ``..._nuclei-64x64.py`` configs train through mmdet's
``CocoDataset`` + ``CocoMetric`` and mmseg's ``BaseSegDataset`` + ``IoUMetric``:

* :func:`write_coco_trees`: ``{out}/{split}/*.png`` and ``{out}/annotations/{split}.json`` in
  COCO's detection format, one category (``tree``, id 1); boxes are ``TreeTiles``' boxes,
  converted from ``xyxy`` to COCO's ``xywh``.
* :func:`write_seg_nuclei`: ``{out}/img_dir/{split}/*.png`` (the grey image in three channels)
  and ``{out}/ann_dir/{split}/*.png`` (0 background, 1 nucleus), the folder layout of
  mmseg's ``BaseSegDataset``. The training split is one image (the column range, random crops
  come from the config's pipeline), the test split fixed tiles, as in
  :func:`convattn_plugin.dense_compare.run_segmentation`.

Nothing here imports mmdet or mmseg: the files are plain PNG and JSON. ``tools/mm_dense_data.py``
is the command line.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
from PIL import Image

from ..packaged_data import TREE_IMAGES, NucleiTiles, TreeTiles

__all__ = ['TREE_CLASSES', 'NUCLEI_CLASSES', 'TREE_SPLITS', 'NUCLEI_SPLITS', 'write_coco_trees', 'write_seg_nuclei']

PathLike = Union[str, os.PathLike]
TREE_CLASSES = ('tree',)
NUCLEI_CLASSES = ('background', 'nucleus')
# The splits of convattn_plugin.dense_compare (its 'test' is 'val' here, mmengine's name), so the
# two routes measure on the same tiles; not imported from there, which needs smp and torchmetrics.
TREE_SPLITS = {'train': [TREE_IMAGES[0]], 'val': [TREE_IMAGES[1]]}
NUCLEI_SPLITS = {'train': (0.0, 0.75), 'val': (0.75, 1.0)}


def _check_out(out_dir: PathLike, overwrite: bool) -> Path:
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f'{out} exists and is not a folder')
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f'{out} is not empty; choose an empty folder or pass overwrite=True (--overwrite)')
    out.mkdir(parents=True, exist_ok=True)
    return out


def _check_splits(splits: dict, what: str) -> None:
    if not isinstance(splits, dict) or not splits or not all(isinstance(k, str) and k for k in splits):
        raise ValueError(f'{what} must be a non-empty dict of split name -> value, got {splits!r}')


def write_coco_trees(root: PathLike, out_dir: PathLike, images: Optional[dict[str, Sequence[str]]] = None,
                     columns: Optional[dict[str, Sequence[float]]] = None, tile: int = 128, scale: float = 0.5,
                     min_visible: float = 0.5, overwrite: bool = False) -> dict[str, dict[str, int]]:
    """Write deepforest's tree tiles as a COCO-style detection data set.

    Args:
        root: Folder of the downloaded wheels, or of the files under their paths in the wheels
            (see :func:`convattn_plugin.packaged_data.read_packaged`).
        out_dir: An empty (or new) folder.
        images: ``{split: [image names]}``; default
            :data:`TREE_SPLITS` (train on one image, test on the other).
        columns: ``{split: (start, end)}`` fractions of the width; default the whole width.
        tile, scale, min_visible: As :class:`~convattn_plugin.packaged_data.TreeTiles`.
        overwrite: Write into a non-empty folder.

    Returns:
        ``{split: {'images': n, 'boxes': n}}``.
    """
    if images is None:
        images = TREE_SPLITS
    _check_splits(images, 'images')
    columns = columns or {split: (0.0, 1.0) for split in images}
    _check_splits(columns, 'columns')
    if set(columns) != set(images):
        raise ValueError(f'columns names the splits {sorted(columns)}, images names {sorted(images)}')
    out = _check_out(out_dir, overwrite)
    (out / 'annotations').mkdir(exist_ok=True)
    counts = {}
    for split, names in images.items():
        tiles = TreeTiles(root, list(names), tile=tile, scale=scale, columns=tuple(columns[split]),
                          min_visible=min_visible)
        (out / split).mkdir(exist_ok=True)
        coco_images, annotations = [], []
        for i, (pixels, boxes) in enumerate(tiles.samples):
            file_name = f'{split}_{i:04d}.png'
            Image.fromarray(pixels.permute(1, 2, 0).numpy()).save(out / split / file_name)
            coco_images.append(dict(id=i + 1, file_name=file_name, width=tile, height=tile))
            for x0, y0, x1, y1 in boxes.tolist():
                w, h = x1 - x0, y1 - y0
                annotations.append(dict(id=len(annotations) + 1, image_id=i + 1, category_id=1,
                                        bbox=[x0, y0, w, h], area=w * h, iscrowd=0))
        coco = dict(images=coco_images, annotations=annotations,
                    categories=[dict(id=k + 1, name=c) for k, c in enumerate(TREE_CLASSES)])
        (out / 'annotations' / f'{split}.json').write_text(json.dumps(coco))
        counts[split] = {'images': len(coco_images), 'boxes': len(annotations)}
    return counts


def _save_pair(image: np.ndarray, mask: np.ndarray, img_path: Path, ann_path: Path) -> None:
    Image.fromarray(np.repeat(image[..., None], 3, axis=2)).save(img_path)
    Image.fromarray(mask.astype(np.uint8)).save(ann_path)


def write_seg_nuclei(root: PathLike, out_dir: PathLike, columns: Optional[dict[str, Sequence[float]]] = None,
                     tile: int = 64, tiled: Sequence[str] = ('val',), overwrite: bool = False) -> dict[str, int]:
    """Write stardist's nuclei image as an mmseg folder data set (background 0, nucleus 1).

    Args:
        root: Folder of the downloaded wheels (or of the vendored files).
        out_dir: An empty (or new) folder.
        columns: ``{split: (start, end)}`` fractions of the width; default
            :data:`NUCLEI_SPLITS` (train on the left three quarters, test on the right quarter).
        tile: Side of the fixed tiles of the splits in ``tiled``.
        tiled: Splits written as fixed ``tile`` px tiles (the others as one image of the
            whole column range, for the pipeline's random crops).
        overwrite: Write into a non-empty folder.

    Returns:
        ``{split: number of images}``.
    """
    if columns is None:
        columns = NUCLEI_SPLITS
    _check_splits(columns, 'columns')
    unknown = sorted(set(tiled) - set(columns))
    if unknown:
        raise ValueError(f'tiled names splits {unknown} that columns does not have ({sorted(columns)})')
    out = _check_out(out_dir, overwrite)
    counts = {}
    for split, cols in columns.items():
        data = NucleiTiles(root, tile=tile, columns=tuple(cols))
        image = np.round(data.image[0].numpy() * 255).astype(np.uint8)
        mask = data.mask.numpy()
        img_dir, ann_dir = out / 'img_dir' / split, out / 'ann_dir' / split
        img_dir.mkdir(parents=True, exist_ok=True)
        ann_dir.mkdir(parents=True, exist_ok=True)
        if split in tiled:
            for y, x in data.origins:
                name = f'{split}_y{y:03d}_x{x:03d}.png'
                _save_pair(image[y:y + tile, x:x + tile], mask[y:y + tile, x:x + tile], img_dir / name, ann_dir / name)
            counts[split] = len(data.origins)
        else:
            _save_pair(image, mask, img_dir / f'{split}.png', ann_dir / f'{split}.png')
            counts[split] = 1
    return counts
