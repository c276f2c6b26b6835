"""Real, labelled images that ship inside two PyPI wheels, tiled for detection and segmentation.

No detection or segmentation data set can be downloaded on the machines this project is
measured on, but two wheels carry real annotated images as package data:

* ``deepforest==2.1.0`` (MIT licence, Ben Weinstein et al.): NEON aerial RGB images with
  hand-drawn tree-crown boxes in Pascal VOC XML, e.g. ``2019_YELL_2_528000_4978000_image_crop2``
  (2299 x 2472 px, 574 trees), ``2019_YELL_2_541000_4977000_image_crop`` (1249 x 1035 px,
  279 trees) and ``OSBS_029`` (400 x 400 px, 61 trees).
* ``stardist==0.9.2`` (BSD-3-Clause licence, Uwe Schmidt, Martin Weigert): ``img2d.tif``, a
  512 x 512 fluorescence image of nuclei, and ``mask2d.tif``, its instance masks (125 nuclei).

Get them with ``pip download --no-deps deepforest==2.1.0 stardist==0.9.2 -d DIR`` (the data
only: nothing of these packages is installed or imported); every function here reads the
files straight out of the wheels in ``DIR`` (or from a folder holding the same relative paths,
as the test suite's vendored copy of the small images does), and checks each file's sha256
against :data:`PACKAGED_FILES` before decoding it.

:class:`TreeTiles` gives torchvision-detection samples (image, ``{'boxes', 'labels'}``),
:class:`NucleiTiles` semantic-segmentation samples (image, background/nucleus mask). Both cut
the images into fixed tiles of a column range (``columns``), so a train and a test split are
two disjoint ranges, or two different images.
"""
from __future__ import annotations

import hashlib
import io
import os
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision import tv_tensors
from torchvision.datasets import VOCDetection
from torchvision.transforms import v2

__all__ = [
    'DOWNLOAD_COMMAND', 'NUCLEI', 'PACKAGED_FILES', 'TREE_IMAGES', 'NucleiTiles', 'TreeTiles',
    'nuclei_image', 'read_packaged', 'tree_annotations',
]

DOWNLOAD_COMMAND = 'pip download --no-deps deepforest==2.1.0 stardist==0.9.2 -d DIR'
_DF = 'deepforest/data/'
_YELL1, _YELL2 = _DF + '2019_YELL_2_528000_4978000_image_crop2', _DF + '2019_YELL_2_541000_4977000_image_crop'
TREE_IMAGES = ('2019_YELL_2_528000_4978000_image_crop2', '2019_YELL_2_541000_4977000_image_crop', 'OSBS_029')
NUCLEI = ('stardist/data/images/img2d.tif', 'stardist/data/images/mask2d.tif')
# sha256 of every file read here, as shipped in deepforest 2.1.0 and stardist 0.9.2.
PACKAGED_FILES = {
    _YELL1 + '.png': 'a9bdb0f4447fdd899d22f567e0e20ba8320c5413b2ad0cd0ac8d9f3b6e0f9767',
    _YELL1 + '.xml': 'bd431af6a5086d721eb731b22f5ea28cd8a8eab06883efc1c665391acbc68e11',
    _YELL2 + '.png': '178e58a23cc2642226a364a30f71bd9258ddc1b012c826f12250914a90c7a131',
    _YELL2 + '.xml': 'cefe4b96888bacbf8af1674f000082e549aa707aa6590d545effb23e43f26631',
    _DF + 'OSBS_029.png': 'd9477c6a00e4902c7bee487d4c5582c3b8b9a2f77f3908a29628b816b291e6ee',
    _DF + 'OSBS_029.xml': '1f68c4011d7b351c29ca755072e77f3d16e6fd1f995bd05a9dd4eb952b55373c',
    NUCLEI[0]: 'f9ccc1571b92c861ff87e28463068b43f61bd47357ed0503f711e5cd1eb97750',
    NUCLEI[1]: '59ad5e820b7982ca9d13e946fa6e7f64e2714899e00a2ae6c69aa79aad53d46f',
}
_WHEELS = {'deepforest': 'deepforest-2.1.0-*.whl', 'stardist': 'stardist-0.9.2-*.whl'}

PathLike = Union[str, os.PathLike]


def read_packaged(root: PathLike, member: str) -> bytes:
    """The bytes of ``member`` (a key of :data:`PACKAGED_FILES`), checked against its sha256.

    Args:
        root: A folder holding the downloaded wheels, or the files themselves under their
            paths inside the wheels (``deepforest/data/OSBS_029.png``).
        member: The file's path inside its wheel.

    Raises:
        ValueError: ``member`` is not one of the known files, or its content differs.
        FileNotFoundError: Neither the file nor its wheel is in ``root``; the message gives
            the ``pip download`` command.
    """
    if member not in PACKAGED_FILES:
        raise ValueError(f'{member!r} is not a packaged file read here; known: {", ".join(PACKAGED_FILES)}')
    root = Path(root)
    if (root / member).is_file():
        data = (root / member).read_bytes()
    else:
        wheels = sorted(root.glob(_WHEELS[member.split('/', 1)[0]]))
        if not wheels:
            raise FileNotFoundError(f'neither {root / member} nor a {_WHEELS[member.split("/", 1)[0]]} in {root}; '
                                    f'get the data with: {DOWNLOAD_COMMAND.replace("DIR", str(root))}')
        with zipfile.ZipFile(wheels[-1]) as wheel:
            data = wheel.read(member)
    digest = hashlib.sha256(data).hexdigest()
    if digest != PACKAGED_FILES[member]:
        raise ValueError(f'{member} in {root} has sha256 {digest}, expected {PACKAGED_FILES[member]} '
                         '(deepforest 2.1.0 / stardist 0.9.2)')
    return data


def tree_annotations(root: PathLike, name: str) -> tuple[np.ndarray, np.ndarray]:
    """``(image, boxes)`` of deepforest image ``name``: ``H x W x 3`` uint8, ``N x 4`` float32 xyxy pixels.

    The Pascal VOC XML is read with torchvision's ``VOCDetection.parse_voc_xml``.
    """
    if name not in TREE_IMAGES:
        raise ValueError(f'unknown tree image {name!r}; known: {", ".join(TREE_IMAGES)}')
    image = np.asarray(Image.open(io.BytesIO(read_packaged(root, f'{_DF}{name}.png'))).convert('RGB'))
    # a pinned, hash-checked file; expat (Python >= 3.7.1 bundles 2.4+) refuses entity-expansion bombs
    tree = VOCDetection.parse_voc_xml(ET.fromstring(read_packaged(root, f'{_DF}{name}.xml')))
    objects = tree['annotation'].get('object', [])
    boxes = np.array([[float(o['bndbox'][k]) for k in ('xmin', 'ymin', 'xmax', 'ymax')] for o in objects],
                     dtype=np.float32).reshape(-1, 4)
    return image, boxes


def nuclei_image(root: PathLike) -> tuple[np.ndarray, np.ndarray]:
    """``(image, instances)`` of stardist's 2-D example: 512 x 512 uint8 image, int32 instance ids (0: background)."""
    image = np.asarray(Image.open(io.BytesIO(read_packaged(root, NUCLEI[0]))))
    instances = np.asarray(Image.open(io.BytesIO(read_packaged(root, NUCLEI[1])))).astype(np.int32)
    if image.max() > 255:
        raise ValueError(f'{NUCLEI[0]}: expected values below 256, got a maximum of {image.max()}')
    return image.astype(np.uint8), instances


def _check_columns(columns: Sequence[float]) -> tuple[float, float]:
    ok = (isinstance(columns, (tuple, list)) and len(columns) == 2
          and all(isinstance(c, (int, float)) for c in columns) and 0 <= columns[0] < columns[1] <= 1)
    if not ok:
        raise ValueError(f'columns must be (start, end) fractions of the image width with 0 <= start < end <= 1, '
                         f'e.g. (0, 0.75) for training and (0.75, 1) for testing; got {columns!r}')
    return float(columns[0]), float(columns[1])


def _tile_origins(height: int, width: int, tile: int, columns: tuple[float, float]) -> list[tuple[int, int]]:
    """Top-left corners of the whole tiles inside the column range (no tile crosses its ends)."""
    x0, x1 = int(round(columns[0] * width)), int(round(columns[1] * width))
    return [(y, x) for y in range(0, height - tile + 1, tile) for x in range(x0, x1 - tile + 1, tile)]


class TreeTiles(Dataset):
    """Tiles of deepforest's aerial images with their tree boxes, as torchvision detectors take them.

    A sample is ``(image, target)``: a ``3 x tile x tile`` float tensor in ``[0, 1]`` and
    ``{'boxes': N x 4 xyxy, 'labels': N ones}`` (one class, tree). A box is kept in a tile
    when at least ``min_visible`` of its area lies inside, clipped to the tile.

    Args:
        root: Folder of the downloaded wheels (see :func:`read_packaged`).
        images: Names from :data:`TREE_IMAGES`.
        tile: Tile side in pixels, after scaling.
        scale: Resize factor applied to the images first (0.5 halves them: tree crowns of
            about 40 px become about 20 px).
        columns: The range of the image width the tiles come from, as fractions.
        augment: Random horizontal and vertical flips (torchvision's ``transforms.v2``,
            which moves the boxes with the image).
        min_visible: Fraction of a box's area that must lie inside a tile.
    """

    def __init__(self, root: PathLike, images: Sequence[str], tile: int = 128, scale: float = 0.5,
                 columns: Sequence[float] = (0.0, 1.0), augment: bool = False, min_visible: float = 0.5) -> None:
        if isinstance(images, str) or not images:
            raise ValueError(f'images must be a non-empty list of names from {TREE_IMAGES}, got {images!r}')
        if not isinstance(tile, int) or tile < 16:
            raise ValueError(f'tile must be an int of at least 16 pixels, got {tile!r}')
        if not isinstance(scale, (int, float)) or not 0 < scale <= 1:
            raise ValueError(f'scale must be in (0, 1], got {scale!r}')
        columns = _check_columns(columns)
        self.samples: list[tuple[torch.Tensor, torch.Tensor]] = []
        for name in images:
            image, boxes = tree_annotations(root, name)
            pil = Image.fromarray(image)
            if scale != 1:
                pil = pil.resize((round(pil.width * scale), round(pil.height * scale)), Image.Resampling.BILINEAR)
                boxes = boxes * scale
            pixels = torch.from_numpy(np.asarray(pil).copy()).permute(2, 0, 1)
            area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
            for y, x in _tile_origins(pixels.shape[1], pixels.shape[2], tile, columns):
                clipped = np.clip(boxes - np.array([x, y, x, y], dtype=np.float32), 0, tile)
                inside = (clipped[:, 2] - clipped[:, 0]) * (clipped[:, 3] - clipped[:, 1])
                keep = (inside >= min_visible * area) & (inside > 0)
                self.samples.append((pixels[:, y:y + tile, x:x + tile].clone(), torch.from_numpy(clipped[keep])))
        self.tile = tile
        self.flip = v2.Compose([v2.RandomHorizontalFlip(), v2.RandomVerticalFlip()]) if augment else None

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def num_boxes(self) -> int:
        return sum(len(b) for _, b in self.samples)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        pixels, boxes = self.samples[i]
        image = tv_tensors.Image(pixels)
        boxes = tv_tensors.BoundingBoxes(boxes, format='XYXY', canvas_size=(self.tile, self.tile))
        if self.flip is not None:
            image, boxes = self.flip(image, boxes)
        target = {'boxes': boxes.as_subclass(torch.Tensor).float(), 'labels': torch.ones(len(boxes), dtype=torch.int64)}
        return image.as_subclass(torch.Tensor).float() / 255, target


class NucleiTiles(Dataset):
    """Tiles of stardist's nuclei image with a background (0) / nucleus (1) mask.

    A sample is ``(image, mask)``: a ``3 x tile x tile`` float tensor (the grey image, scaled
    to ``[0, 1]`` by the image's maximum, in three channels as RGB encoders take it) and a
    ``tile x tile`` int64 mask.

    Args:
        root: Folder of the downloaded wheels (see :func:`read_packaged`).
        tile: Tile side in pixels.
        columns: The range of the image width the tiles come from, as fractions.
        augment: Random flips (torchvision's ``transforms.v2``) and transposes.
        crops_per_epoch: When given, each sample is a random ``tile`` crop of the column range
            instead of a fixed tile, and the data set has this many samples.
    """

    def __init__(self, root: PathLike, tile: int = 64, columns: Sequence[float] = (0.0, 1.0),
                 augment: bool = False, crops_per_epoch: Optional[int] = None) -> None:
        if not isinstance(tile, int) or tile < 16:
            raise ValueError(f'tile must be an int of at least 16 pixels, got {tile!r}')
        columns = _check_columns(columns)
        image, instances = nuclei_image(root)
        x0, x1 = int(round(columns[0] * image.shape[1])), int(round(columns[1] * image.shape[1]))
        if x1 - x0 < tile:
            raise ValueError(f'the column range {columns} is {x1 - x0} px wide, narrower than a tile of {tile}')
        self.image = torch.from_numpy(image[:, x0:x1].astype(np.float32) / float(image.max())).expand(3, -1, -1)
        self.mask = torch.from_numpy((instances[:, x0:x1] > 0).astype(np.int64))
        self.tile = tile
        self.origins = _tile_origins(self.mask.shape[0], self.mask.shape[1], tile, (0.0, 1.0))
        self.crops_per_epoch = crops_per_epoch
        self.augment = v2.Compose([v2.RandomHorizontalFlip(), v2.RandomVerticalFlip()]) if augment else None

    def __len__(self) -> int:
        return self.crops_per_epoch or len(self.origins)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self.crops_per_epoch:
            y = int(torch.randint(0, self.mask.shape[0] - self.tile + 1, ()))
            x = int(torch.randint(0, self.mask.shape[1] - self.tile + 1, ()))
        else:
            y, x = self.origins[i]
        image = tv_tensors.Image(self.image[:, y:y + self.tile, x:x + self.tile])
        mask = tv_tensors.Mask(self.mask[y:y + self.tile, x:x + self.tile])
        if self.augment is not None:
            image, mask = self.augment(image, mask)
            if torch.rand(()) < 0.5:  # with the flips, all 8 symmetries of a square: nuclei have no orientation
                image, mask = image.transpose(1, 2), mask.transpose(0, 1)
        return image.as_subclass(torch.Tensor).contiguous(), mask.as_subclass(torch.Tensor).contiguous()
