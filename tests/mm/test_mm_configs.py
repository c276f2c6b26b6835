"""configs/ in mmpretrain's convention: every leaf loads and builds; CPU-safe loaders."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from mmengine.config import Config
from mmengine.registry import init_default_scope

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / 'configs'
# The model-hub folders (in model-index.yml); other folders (e.g. leaderboard/) hold
# experiment configs with their own tests.
FOLDERS = sorted(CONFIGS / Path(rel).parent for rel in yaml.safe_load((CONFIGS / 'model-index.yml').read_text())['Import'])
LEAVES = sorted(p for folder in FOLDERS for p in folder.glob('*.py'))


def test_required_configs_exist():
    names = {p.stem for p in LEAVES}
    for model in ('resnet18-cbam', 'resnet50-cbam', 'vgg16-localattn', 'resnet18-plain'):
        for data in ('8xb32_in1k', '8xb16_cifar10', '1xb32_digits'):
            assert f'{model}_{data}' in names
    assert all(re.fullmatch(r'[a-z0-9]+(-[a-z0-9]+)*_\d+xb\d+_[a-z0-9]+', n) for n in names), names


def test_custom_imports_in_exactly_one_base_file():
    files = [p for p in CONFIGS.rglob('*.py') if 'custom_imports' in p.read_text()]
    # One runtime per family: classification, detection (mmdet), segmentation (mmseg).
    assert sorted(files) == sorted([CONFIGS / '_base_' / 'default_runtime.py', CONFIGS / '_base_' / 'det' / 'default_runtime.py',
                                    CONFIGS / '_base_' / 'seg' / 'default_runtime.py'])


def test_each_folder_has_readme_and_metafile_listing_its_configs():
    for folder in FOLDERS:
        assert (folder / 'README.md').is_file(), folder
        meta = yaml.safe_load((folder / 'metafile.yml').read_text())
        listed = {m['Config'] for m in meta['Models']}
        on_disk = {str(p.relative_to(REPO)) for p in folder.glob('*.py')}
        assert listed == on_disk, folder
        assert {m['Name'] for m in meta['Models']} == {Path(c).stem for c in on_disk}
    assert {p.parent for p in CONFIGS.glob('*/metafile.yml')} == set(FOLDERS)  # no metafile left out


@pytest.mark.parametrize('path', LEAVES, ids=lambda p: p.stem)
def test_leaf_loads_builds_and_is_cpu_safe(path):
    from mmpretrain.registry import MODELS

    init_default_scope('mmpretrain')
    cfg = Config.fromfile(str(path))
    assert cfg.custom_imports.imports == ['convattn_plugin.mm']
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[key]
        # mmpretrain's tools/train.py forces persistent_workers=True unless the config says otherwise.
        assert 'persistent_workers' in loader and (loader.num_workers > 0 or not loader.persistent_workers)
    model = MODELS.build(cfg.model)
    classes = 1000 if path.stem.endswith('in1k') else 10
    assert model.head.num_classes == classes
    assert type(model.backbone).__name__ in ('ConvAttnResNet', 'ConvAttnVGG')
    expected = {'cbam': 'cbam', 'localattn': 'localattn', 'plain': None}[path.stem.split('_')[0].split('-')[1]]
    assert model.backbone.attention == expected
    sched = cfg.param_scheduler
    assert [s['type'] for s in sched] == ['LinearLR', 'CosineAnnealingLR']  # warm-up, then decay
    assert cfg.optim_wrapper.optimizer.weight_decay > 0
    assert cfg.model.head.loss.type == 'LabelSmoothLoss'


def test_both_digits_models_share_one_recipe():
    a = Config.fromfile(str(CONFIGS / 'resnet_cbam/resnet18-cbam_1xb32_digits.py'))
    b = Config.fromfile(str(CONFIGS / 'resnet/resnet18-plain_1xb32_digits.py'))
    da, db = a.to_dict(), b.to_dict()
    assert da['model']['backbone'].pop('arch') == 'resnet18_cbam'
    assert db['model']['backbone'].pop('arch') == 'resnet18'
    assert da == db
