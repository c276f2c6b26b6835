"""``resnext50_32x4d_simam.zjjconan_in1k``: the SimAM authors' ResNeXt-50 (32x4d) file loads unchanged.

The reference (tests/published_reference/simam_resnext.py) has the authors' parameter names and
forward; with random weights it is saved as their ``main_imagenet.py`` saves (``{'epoch', 'arch',
'state_dict' of a DataParallel model, 'best_acc', 'optimizer'}``), loaded through the tag, and
the logits compared. A ResNet-50 SimAM file is refused by the ResNeXt tag, and the other way round.
"""
from __future__ import annotations

import pytest
import timm
import torch
from published_reference import authors_resnet, randomize_, save_like_authors
from published_reference.simam_resnext import authors_simam_resnext50_32x4d

import convattn_plugin  # noqa: F401  (registers the models and tags)
from convattn_plugin.models import ArchitectureMismatchError
from convattn_plugin.models.published_weights import PUBLISHED

TAG = 'resnext50_32x4d_simam.zjjconan_in1k'
SIZE = 64

pytestmark = pytest.mark.usefixtures('one_thread')


@pytest.fixture(scope='module')
def authors_file(tmp_path_factory):
    torch.manual_seed(0)
    reference = randomize_(authors_simam_resnext50_32x4d(e_lambda=0.1), seed=0)
    path = save_like_authors(reference, tmp_path_factory.mktemp('simam') / 'imagenet-resnext50_32x4d-simam.pth.tar',
                             best_key='best_acc')
    return reference, path


def _load(name, path, **kwargs):
    return timm.create_model(name, pretrained=True, pretrained_cfg_overlay=dict(file=str(path)), **kwargs).eval()


def test_authors_file_gives_authors_logits(authors_file):
    reference, path = authors_file
    saved = torch.load(path, weights_only=True)
    assert 'best_acc' in saved and saved['state_dict']['module.layer1.0.conv2.0.weight'].shape == (128, 4, 3, 3)
    ours = _load(TAG, path)
    x = torch.randn(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, got = reference(x), ours(x)
    assert expected.abs().max() > 1e-3  # the random model is not degenerate
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)

    # lambda matters at these weights: the CIFAR value 1e-4 would give other logits.
    other = authors_simam_resnext50_32x4d(e_lambda=1e-4).eval()
    other.load_state_dict(reference.state_dict())
    with torch.no_grad():
        assert (other(x) - expected).abs().max() > 1e-3


def test_the_tag_builds_the_authors_resnext():
    model = timm.create_model(TAG, device='meta')
    assert model.layer1[0].conv2.groups == 32 and model.layer1[0].conv2.in_channels == 128  # 32 x 4d
    assert model.layer4[0].conv2.in_channels == 1024 and model.layer4[0].conv2.stride == (2, 2)
    assert model.layer3[5].bn2.attn.e_lambda == 0.1  # after the grouped 3x3 conv, before bn2
    assert not any(b.se for layer in (model.layer1, model.layer4) for b in layer)
    # The authors' README: SimAM-RX50 (32x4d) 25.03 M parameters (SimAM adds none).
    assert round(sum(p.numel() for p in model.parameters()) / 1e6, 2) == 25.03
    plain = timm.create_model('resnext50_32x4d', device='meta').state_dict()
    assert {k: v.shape for k, v in model.state_dict().items()} == {k: v.shape for k, v in plain.items()}


def test_the_tag_is_listed_with_the_readme_figures():
    entry = PUBLISHED[TAG]
    assert (entry.top1, entry.top5) == (78.00, 93.93)
    assert TAG in timm.list_pretrained('resnext50_32x4d_*')
    cfg = timm.models.get_pretrained_cfg(TAG)
    assert cfg.file == 'imagenet-resnext50_32x4d-simam-param0.1.pth.tar'  # the authors' folder naming
    assert cfg.paper_ids == ('arXiv:1611.05431',)  # ResNeXt (SimAM, ICML 2021, has no arXiv id)
    assert '78.00%' in cfg.description and 'drive.google.com/drive/folders/1rRT0UCPeRLPdTCJvv43hvAnGnS49nIWn' in cfg.notes[0]


def test_the_model_table_shows_the_reported_top1():
    from convattn_plugin.analysis.model_table import family_table

    lines = family_table('resnext50_32x4d', 64)
    assert lines[0].startswith('`resnet{18,34,50,101,152}_{kind}`, `resnext50_32x4d_{kind}`, figures for')
    simam = next(line for line in lines if line.startswith('| `resnext50_32x4d_simam`'))
    assert simam.split('|')[8].strip() == '18: 71.31, 34: 74.49, 50: 77.45, 101: 78.65, resnext50_32x4d: 78.00'
    assert simam.split('|')[2].strip() == 'every block of layer1-4, before bn2'


def test_a_resnet50_simam_file_is_refused_listing_keys(tmp_path):
    torch.manual_seed(0)
    path = save_like_authors(randomize_(authors_resnet(50, 'simam', (0.1,) * 4)), tmp_path / 'r50.pth.tar',
                             best_key='best_acc')
    with pytest.raises(ArchitectureMismatchError) as e:
        _load(TAG, path)
    message = str(e.value)
    # Same key names as ResNet-50's: the widths and the grouped 3x3 convs tell them apart.
    assert "is not the authors' resnext50_32x4d_simam" in message and '0 missing, 0 unexpected' in message
    assert 'shape: layer1.0.conv1.weight: model (128, 64, 1, 1), file (64, 64, 1, 1)' in message
    assert 'shape: layer4.2.conv2.weight: model (1024, 32, 3, 3), file (512, 512, 3, 3)' in message


def test_the_resnext_file_is_refused_by_the_resnet50_tag(authors_file):
    _, path = authors_file
    with pytest.raises(ArchitectureMismatchError, match=r'shape: layer1\.0\.conv2\.weight: model \(64, 64, 3, 3\), '
                                                        r'file \(128, 4, 3, 3\)'):
        _load('resnet50_simam.zjjconan_in1k', path)


def test_the_tag_refuses_a_conflicting_option():
    with pytest.raises(ValueError, match='attn_kwargs=.*conflicts with the authors'):
        timm.create_model(TAG, attn_kwargs=dict(e_lambda=1e-4), device='meta')


def test_mmpretrain_has_no_config_for_the_resnext_tag(tmp_path):
    pytest.importorskip('mmengine', reason='needs the mm extra: pip install "convattn_plugin[mm]"')
    from convattn_plugin.mm.backbones import ConvAttnResNet
    from convattn_plugin.release.published import MM_ARCHS, convert_published, mm_published_tags

    assert MM_ARCHS == tuple(f'resnet{depth}' for depth in ConvAttnResNet.depths)  # what the backbone builds
    assert TAG not in mm_published_tags() and 'resnet50_simam.zjjconan_in1k' in mm_published_tags()
    with pytest.raises(FileNotFoundError, match=f'no mmpretrain config for {TAG}.*timm only'):
        convert_published(TAG, tmp_path / 'never_read.pth', tmp_path / 'release')
    assert not (tmp_path / 'release').exists()
