"""The real labelled images of deepforest's and stardist's wheels: reading, hash checks, tiling, flips."""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from convattn_plugin.packaged_data import (
    NUCLEI, PACKAGED_FILES, NucleiTiles, TreeTiles, nuclei_image, read_packaged, tree_annotations,
)

DATA = Path(__file__).parent / 'data' / 'packaged'  # byte-identical copies of four of the wheels' files
OSBS = 'deepforest/data/OSBS_029.png'


def test_reads_files_and_wheels_and_checks_the_hash(tmp_path):
    data = read_packaged(DATA, OSBS)
    wheel = tmp_path / 'deepforest-2.1.0-py3-none-any.whl'
    with zipfile.ZipFile(wheel, 'w') as z:
        z.writestr(OSBS, data)
    assert read_packaged(tmp_path, OSBS) == data  # straight out of the wheel

    tampered = tmp_path / 'copy' / OSBS
    tampered.parent.mkdir(parents=True)
    tampered.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(ValueError, match=f'has sha256 .*expected {PACKAGED_FILES[OSBS]}'):
        read_packaged(tmp_path / 'copy', OSBS)
    with pytest.raises(ValueError, match='not a packaged file'):
        read_packaged(DATA, 'deepforest/data/other.png')
    with pytest.raises(FileNotFoundError, match='pip download --no-deps deepforest==2.1.0'):
        read_packaged(tmp_path / 'copy', NUCLEI[0])


def test_tree_annotations():
    image, boxes = tree_annotations(DATA, 'OSBS_029')
    assert image.shape == (400, 400, 3) and image.dtype == np.uint8
    assert boxes.shape == (61, 4)
    assert (boxes[:, :2] < boxes[:, 2:]).all() and boxes.min() >= 0 and boxes.max() <= 400
    with pytest.raises(ValueError, match='unknown tree image'):
        tree_annotations(DATA, 'OSBS_030')


def test_tree_tiles_keep_the_boxes_inside_each_tile():
    _, boxes = tree_annotations(DATA, 'OSBS_029')
    tiles = TreeTiles(DATA, ['OSBS_029'], tile=200, scale=1.0)
    assert len(tiles) == 4
    origins = [(0, 0), (0, 200), (200, 0), (200, 200)]  # (y, x) in row order
    for (y, x), (image, target) in zip(origins, tiles):
        assert image.shape == (3, 200, 200) and 0 <= image.min() and image.max() <= 1
        assert (target['labels'] == 1).all()
        got = {tuple(b) for b in target['boxes'].tolist()}
        inside = [b for b in boxes if b[0] >= x and b[2] <= x + 200 and b[1] >= y and b[3] <= y + 200]
        assert {tuple(float(v) for v in b - np.array([x, y, x, y])) for b in inside} <= got
        assert all(0 <= v <= 200 for b in got for v in b)
    # every box is kept in the tile that holds most of it, so none is lost and none counted twice
    assert tiles.num_boxes == 61

    half = TreeTiles(DATA, ['OSBS_029'], tile=200, scale=0.5)
    assert len(half) == 1 and torch.allclose(half[0][1]['boxes'], torch.from_numpy(boxes) / 2)


def test_tree_tiles_split_by_columns_and_refuse_bad_arguments():
    train = TreeTiles(DATA, ['OSBS_029'], tile=100, scale=1.0, columns=(0, 0.5))
    test = TreeTiles(DATA, ['OSBS_029'], tile=100, scale=1.0, columns=(0.5, 1))
    assert len(train) == len(test) == 8
    every = TreeTiles(DATA, ['OSBS_029'], tile=100, scale=1.0)
    assert sorted(t[0].sum().item() for t in every) == sorted(t[0].sum().item() for t in [*train, *test])
    for kwargs, message in [(dict(columns=(0.5, 0.5)), 'columns must be'), (dict(columns=(0, 2)), 'columns must be'),
                            (dict(tile=8), 'tile must be'), (dict(scale=0), 'scale must be'),
                            (dict(images='OSBS_029'), 'images must be')]:
        with pytest.raises(ValueError, match=message):
            TreeTiles(DATA, **{'images': ['OSBS_029'], **kwargs})


def _symmetries(image: torch.Tensor) -> list[torch.Tensor]:
    """The 8 symmetries of a square of the last two dims (flips and transposes)."""
    out = []
    for t in (image, image.transpose(-1, -2)):
        out += [t, t.flip(-1), t.flip(-2), t.flip(-1).flip(-2)]
    return out


def test_tree_flips_move_the_boxes_with_the_image():
    plain = TreeTiles(DATA, ['OSBS_029'], tile=200, scale=1.0)
    flipped = TreeTiles(DATA, ['OSBS_029'], tile=200, scale=1.0, augment=True)
    torch.manual_seed(0)
    for i in range(len(plain)):
        image, target = plain[i]
        f_image, f_target = flipped[i]
        b = target['boxes']
        variants = {  # (image, boxes) under no flip, horizontal, vertical, both
            'none': (image, b),
            'h': (image.flip(-1), torch.stack([200 - b[:, 2], b[:, 1], 200 - b[:, 0], b[:, 3]], 1)),
            'v': (image.flip(-2), torch.stack([b[:, 0], 200 - b[:, 3], b[:, 2], 200 - b[:, 1]], 1)),
        }
        variants['hv'] = (image.flip(-1).flip(-2), torch.stack(
            [200 - b[:, 2], 200 - b[:, 3], 200 - b[:, 0], 200 - b[:, 1]], 1))
        match = [k for k, (im, bx) in variants.items() if torch.equal(im, f_image)]
        assert len(match) == 1
        assert torch.allclose(variants[match[0]][1], f_target['boxes'])


def test_nuclei_image_and_tiles():
    image, instances = nuclei_image(DATA)
    assert image.shape == instances.shape == (512, 512) and image.dtype == np.uint8
    assert len(np.unique(instances)) - 1 == 125
    test = NucleiTiles(DATA, tile=64, columns=(0.75, 1))
    assert len(test) == 2 * 8
    x, m = test[0]
    assert x.shape == (3, 64, 64) and m.shape == (64, 64) and m.dtype == torch.int64
    assert torch.equal(m, torch.from_numpy((instances[:64, 384:448] > 0).astype(np.int64)))
    assert x[:, m == 1].mean() > x[:, m == 0].mean()  # nuclei are the bright part of the image
    crops = NucleiTiles(DATA, tile=64, columns=(0, 0.75), crops_per_epoch=5)
    assert len(crops) == 5 and crops[0][0].shape == (3, 64, 64)
    with pytest.raises(ValueError, match='narrower than a tile'):
        NucleiTiles(DATA, tile=128, columns=(0.9, 1))


def test_nuclei_augmentation_keeps_image_and_mask_aligned():
    plain = NucleiTiles(DATA, tile=64, columns=(0.75, 1))
    augmented = NucleiTiles(DATA, tile=64, columns=(0.75, 1), augment=True)
    torch.manual_seed(0)
    seen = set()
    for i in range(len(plain)):
        image, mask = plain[i]
        a_image, a_mask = augmented[i]
        k = [j for j, s in enumerate(_symmetries(image)) if torch.equal(s, a_image)]
        assert k and any(torch.equal(_symmetries(mask)[j], a_mask) for j in k)
        seen.add(k[0])
    assert len(seen) > 1  # it does augment
