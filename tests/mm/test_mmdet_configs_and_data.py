"""The detection / segmentation configs and the real-data writers, without mmdet or mmseg (default suite).

The configs load with mmengine alone (except those that inherit mmdet's or mmseg's packaged
configs through ``mmdet::`` / ``mmseg::``, loaded where those are installed); the writers produce
the COCO JSON and the mmseg folders that ``tests/mmdet_mmseg`` then reads with mmdet's and mmseg's own
dataset classes.
"""
from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from convattn_plugin.mm.dense_datasets import NUCLEI_CLASSES, TREE_CLASSES, write_coco_trees, write_seg_nuclei
from convattn_plugin.packaged_data import NucleiTiles, TreeTiles

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / 'configs'
PACKAGED = REPO / 'tests' / 'data' / 'packaged'
FAMILIES = {'det': ('retinanet_attn', 'faster_rcnn_attn'), 'seg': ('upernet_attn', 'fcn_attn')}
LEAVES = sorted(p for folders in FAMILIES.values() for f in folders for p in (CONFIGS / f).glob('*.py'))
OSBS = dict(images={'train': ['OSBS_029'], 'val': ['OSBS_029']}, columns={'train': (0, 0.68), 'val': (0.68, 1)},
            tile=128, scale=1.0)


def _needs(path: Path) -> str | None:
    """The OpenMMLab package whose packaged configs ``path`` inherits, when it is not installed."""
    text = path.read_text()
    for pkg in ('mmdet', 'mmseg'):
        if f"'{pkg}::" in text and importlib.util.find_spec(pkg) is None:
            return pkg
    return None


@pytest.mark.parametrize('path', LEAVES, ids=lambda p: p.stem)
def test_leaf_loads_with_our_imports_and_scope(path):
    if _needs(path):
        pytest.skip(f'{path.name} inherits {_needs(path)}\'s packaged configs: tools/install_mmdet.sh')
    cfg = Config.fromfile(str(path))
    family = next(k for k, folders in FAMILIES.items() if path.parent.name in folders)
    assert cfg.custom_imports == dict(imports=['convattn_plugin.mm'], allow_failed_imports=False)
    assert cfg.default_scope == {'det': 'mmdet', 'seg': 'mmseg'}[family]
    assert re.fullmatch(r'[a-z0-9-]+(_[a-z0-9-]+)*_\d+xb\d+-\d+[a-z]*_[a-z0-9x-]+', path.stem), path.stem
    backbone = cfg.model.backbone
    if 'plugin' in path.stem:  # their own ResNet, our layer as an mmcv plugin
        assert backbone.type in ('ResNet', 'ResNetV1c')
        assert [p['cfg']['type'] for p in backbone.plugins] in (['ConvAttnCbam'], ['ConvAttnGc'])
    else:
        assert backbone.type == 'ConvAttnResNet'
        expected = 'cbam' if '-cbam' in path.stem else 'gc' if '-gc' in path.stem else None
        assert backbone.attention == expected
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[key]
        assert loader.num_workers > 0 or not loader.persistent_workers  # DataLoader refuses the mix
    if path.stem.endswith(('_coco', 'ade20k-512x512', 'cityscapes-512x1024')):  # GPU recipes from ImageNet weights
        if 'plugin' not in path.stem:
            assert backbone.init_cfg == dict(type='Pretrained', checkpoint='torchvision://resnet50')
    else:  # the measured CPU runs: random init, nothing to download
        assert backbone.get('init_cfg') is None and cfg.train_cfg.max_iters == 300


def test_custom_imports_in_exactly_one_base_file_per_family():
    for family in FAMILIES:
        files = [p for p in (CONFIGS / '_base_' / family).rglob('*.py') if 'custom_imports' in p.read_text()]
        assert files == [CONFIGS / '_base_' / family / 'default_runtime.py']
    for path in LEAVES:
        assert 'custom_imports' not in path.read_text(), path


@pytest.mark.parametrize('plain, attn', [
    ('faster_rcnn_attn/faster-rcnn_r18_fpn_1xb4-300i_trees.py', 'faster_rcnn_attn/faster-rcnn_r18-cbam_fpn_1xb4-300i_trees.py'),
    ('upernet_attn/upernet_r18_1xb8-300i_nuclei-64x64.py', 'upernet_attn/upernet_r18-cbam_1xb8-300i_nuclei-64x64.py'),
])
def test_measured_pairs_differ_only_in_the_attention(plain, attn):
    a, b = Config.fromfile(str(CONFIGS / plain)).to_dict(), Config.fromfile(str(CONFIGS / attn)).to_dict()
    assert a['model']['backbone'].pop('attention') is None
    assert b['model']['backbone'].pop('attention') == 'cbam'
    assert a == b


def test_each_folder_has_a_readme_naming_its_configs():
    for folder in (f for folders in FAMILIES.values() for f in folders):
        readme = (CONFIGS / folder / 'README.md').read_text()
        missing = [p.name for p in (CONFIGS / folder).glob('*.py') if p.name not in readme]
        assert not missing, f'{folder}/README.md does not name {missing}'
        assert 'needs a GPU' in readme


def test_coco_trees_hold_the_tiles_and_boxes_of_tree_tiles(tmp_path):
    counts = write_coco_trees(PACKAGED, tmp_path, **OSBS)
    for split, columns in OSBS['columns'].items():
        tiles = TreeTiles(PACKAGED, ['OSBS_029'], tile=128, scale=1.0, columns=columns)
        coco = json.loads((tmp_path / 'annotations' / f'{split}.json').read_text())
        assert counts[split] == {'images': len(tiles), 'boxes': tiles.num_boxes}
        assert coco['categories'] == [{'id': 1, 'name': TREE_CLASSES[0]}]
        assert [i['id'] for i in coco['images']] == list(range(1, len(tiles) + 1))
        for image, (pixels, boxes) in zip(coco['images'], tiles.samples):
            png = np.asarray(Image.open(tmp_path / split / image['file_name']))
            assert png.shape == (128, 128, 3) and np.array_equal(png, pixels.permute(1, 2, 0).numpy())
            xywh = torch.tensor([a['bbox'] for a in coco['annotations'] if a['image_id'] == image['id']]).reshape(-1, 4)
            xyxy = torch.cat([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], 1)
            assert torch.allclose(xyxy, boxes, atol=1e-4)
    assert len({a['id'] for a in coco['annotations']}) == len(coco['annotations'])


def test_nuclei_folders_hold_the_images_and_masks_of_nuclei_tiles(tmp_path):
    counts = write_seg_nuclei(PACKAGED, tmp_path)
    val = NucleiTiles(PACKAGED, tile=64, columns=(0.75, 1.0))
    assert counts == {'train': 1, 'val': len(val)}
    train_mask = np.asarray(Image.open(tmp_path / 'ann_dir/train/train.png'))
    assert train_mask.shape == (512, 384) and set(np.unique(train_mask)) == {0, 1}
    assert np.array_equal(train_mask, NucleiTiles(PACKAGED, tile=64, columns=(0, 0.75)).mask.numpy())
    names = sorted(p.name for p in (tmp_path / 'ann_dir/val').iterdir())
    assert names == sorted(p.name for p in (tmp_path / 'img_dir/val').iterdir()) and len(names) == len(val)
    masks = np.stack([np.asarray(Image.open(tmp_path / 'ann_dir/val' / n)) for n in names])
    assert masks.sum() == sum(int(m.sum()) for _, m in val)
    image = np.asarray(Image.open(tmp_path / 'img_dir/val' / names[0]))
    assert image.shape == (64, 64, 3) and np.array_equal(image[..., 0], image[..., 2])
    assert len(NUCLEI_CLASSES) == 2


def test_writers_refuse_a_non_empty_folder_and_mismatched_splits(tmp_path):
    (tmp_path / 'x.txt').write_text('mine')
    with pytest.raises(FileExistsError, match='not empty'):
        write_coco_trees(PACKAGED, tmp_path, **OSBS)
    with pytest.raises(FileExistsError, match='not empty'):
        write_seg_nuclei(PACKAGED, tmp_path)
    with pytest.raises(ValueError, match='columns names the splits'):
        write_coco_trees(PACKAGED, tmp_path / 'a', images={'train': ['OSBS_029']}, columns={'val': (0, 1)})
    with pytest.raises(ValueError, match='tiled names splits'):
        write_seg_nuclei(PACKAGED, tmp_path / 'b', tiled=('test',))
    assert (tmp_path / 'x.txt').read_text() == 'mine'


def test_tool_reports_missing_wheels_in_one_line_with_the_download_command(tmp_path, capsys):
    import runpy

    tool = runpy.run_path(str(REPO / 'tools/mm_dense_data.py'))
    missing = tmp_path / 'no_wheels'
    missing.mkdir()
    assert tool['main']([str(missing), str(tmp_path / 'out')]) == 1
    err = capsys.readouterr().err
    assert err.startswith('error: ') and 'pip download --no-deps deepforest==2.1.0' in err and err.count('\n') == 1
