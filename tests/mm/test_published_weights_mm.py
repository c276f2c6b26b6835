"""The authors' files become releases, and configs/published builds each tag's architecture in mmpretrain."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import timm
import torch
import yaml
from mmengine.config import Config
from mmpretrain.registry import MODELS

import convattn_plugin.mm  # noqa: F401  (registers the backbones)
from convattn_plugin.checkpoint import hash_in_name, load_weights
from convattn_plugin.models import ArchitectureMismatchError
from convattn_plugin.models.published_weights import PUBLISHED
from convattn_plugin.release.published import config_name, config_path, convert_published, mm_published_tags

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / 'tests'))
from published_reference import authors_resnet, randomize_, save_like_authors  # noqa: E402


def test_every_tag_has_a_config_with_its_architecture():
    configs = sorted(p.stem for p in (REPO / 'configs/published').glob('*.py'))
    with_config = [PUBLISHED[name] for name in mm_published_tags()]
    assert configs == sorted(config_name(e) for e in with_config)
    for entry in with_config:
        backbone = Config.fromfile(str(config_path(entry))).model.backbone.to_dict()
        args = dict(entry.model_args)
        assert f"resnet{backbone['depth']}_{backbone['attention']}" == entry.model
        assert tuple(backbone['attn_stages']) == tuple(args.pop('attn_stages'))
        assert backbone.get('attn_kwargs') == args.pop('attn_kwargs', None)
        assert backbone['timm_kwargs'] == args, entry.name


def test_a_tag_without_an_mmpretrain_backbone_is_refused_before_any_work(tmp_path):
    assert 'mobilenetv2_100_eca.bangguwu_in1k' in PUBLISHED and 'mobilenetv2_100_eca.bangguwu_in1k' not in mm_published_tags()
    with pytest.raises(FileNotFoundError, match='no mmpretrain config for mobilenetv2_100_eca.bangguwu_in1k.*timm only'):
        convert_published('mobilenetv2_100_eca.bangguwu_in1k', tmp_path / 'never_read.pth', tmp_path / 'release')
    assert not (tmp_path / 'release').exists()


def test_converted_release_loads_strictly_in_mmpretrain_with_timm_logits(tmp_path, one_thread):
    name = 'resnet18_eca.bangguwu_in1k'  # per-stage kernel sizes: nested options through both frameworks
    torch.manual_seed(0)
    authors = save_like_authors(randomize_(authors_resnet(18, 'eca', (3, 5, 7, 7))), tmp_path / 'authors.pth.tar')
    release = convert_published(name, authors, tmp_path / 'release', date='20260101')
    entry = PUBLISHED[name]
    assert hash_in_name(release.checkpoint) is not None
    model = yaml.safe_load(release.metafile.read_text())['Models'][0]
    assert model['Results'][0]['Metrics']['Top 1 Accuracy'] == entry.top1
    assert 'reported' in model['Metadata']['Results Source']

    cfg = Config.fromfile(str(config_path(entry)))
    mm_model = MODELS.build(cfg.model).eval()
    mm_model.load_state_dict(load_weights(release.checkpoint)['state_dict'], strict=True)
    ours = timm.create_model(name, pretrained=True, pretrained_cfg_overlay=dict(file=str(authors))).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(mm_model(x, mode='tensor'), ours(x), atol=1e-5, rtol=1e-5)
    from_timm_folder = timm.create_model(f'local-dir:{release.timm_dir}', pretrained=True).eval()
    assert from_timm_folder.pretrained_cfg['license'] == entry.license
    with torch.no_grad():
        torch.testing.assert_close(from_timm_folder(x), ours(x), atol=1e-5, rtol=1e-5)


def test_wrong_architecture_writes_nothing(tmp_path, one_thread):
    authors = save_like_authors(randomize_(authors_resnet(18, 'simam', (0.1,) * 4)), tmp_path / 'a.pth.tar')
    with pytest.raises(ArchitectureMismatchError, match='layer1.0.se.conv.weight'):
        convert_published('resnet18_eca.bangguwu_in1k', authors, tmp_path / 'release')
    assert not (tmp_path / 'release').exists()


def test_tool_lists_tags_and_answers_help():
    out = subprocess.run([sys.executable, str(REPO / 'tools/convert_published.py'), '--list'],
                         capture_output=True, text=True, check=True).stdout
    assert 'resnet50_cbam.jongchan_in1k' in out and 'RESNET50_CBAM_new_name_wrap.pth' in out and '77.62%' in out
    help_text = subprocess.run([sys.executable, str(REPO / 'tools/convert_published.py'), '--help'],
                               capture_output=True, text=True, check=True).stdout
    assert 'AUTHORS_FILE' in help_text


def _tiny_imagenet_val(root: Path, n: int = 4) -> Path:
    """mmpretrain's ImageNet layout (``val/`` + ``meta/val.txt``) with a few random images."""
    from PIL import Image
    (root / 'val').mkdir(parents=True)
    (root / 'meta').mkdir()
    g = torch.Generator().manual_seed(0)
    lines = []
    for i in range(n):
        pixels = torch.randint(0, 256, (80, 96, 3), generator=g, dtype=torch.uint8).numpy()
        Image.fromarray(pixels).save(root / 'val' / f'img{i}.JPEG')
        lines.append(f'img{i}.JPEG {i * 7}')
    (root / 'meta' / 'val.txt').write_text('\n'.join(lines) + '\n')
    return root


def test_tools_test_py_runs_the_published_config_on_the_converted_checkpoint(tmp_path, kit, one_thread):
    name = 'resnet18_simam.zjjconan_in1k'
    authors = save_like_authors(randomize_(authors_resnet(18, 'simam', (0.1,) * 4)), tmp_path / 'authors.pth.tar',
                                best_key='best_acc')
    release = convert_published(name, authors, tmp_path / 'release', date='20260101')
    data = _tiny_imagenet_val(tmp_path / 'imagenet')
    proc = kit.run_tool([sys.executable, str(REPO / 'tools/test.py'), str(config_path(PUBLISHED[name])),
                         str(release.checkpoint), '--work-dir', str(tmp_path / 'work'), '--cfg-options',
                         f'test_dataloader.dataset.data_root={data}', 'test_dataloader.num_workers=0',
                         'test_dataloader.persistent_workers=False', 'test_dataloader.batch_size=2'],
                        kit.child_env())
    assert 'accuracy/top1' in proc.stdout
