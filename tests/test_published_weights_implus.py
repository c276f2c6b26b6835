"""SGE-ResNet, SK-ResNet* (implus/PytorchInsight) and SA-ResNet (wofmanaf/SA-Net) files load through their tags.

The reference models (tests/published_reference/pytorchinsight.py, sa_net.py) have the authors'
parameter names and forward; with random weights (BN statistics, and the attention's own
parameters, which the authors initialise to constants), saved as the authors' scripts save
(``state_dict`` of a ``DataParallel`` model beside ``best_acc`` and the optimizer; PyTorch's
legacy format for the 2019 PytorchInsight files), they give the same logits through
``timm.create_model(tag, pretrained=True, pretrained_cfg_overlay=dict(file=...))``.
"""
from __future__ import annotations

import pytest
import timm
import torch
from published_reference import randomize_
from published_reference.bottleneck_resnet import save_training_checkpoint
from published_reference.pytorchinsight import sge_resnet, sk_resnet
from published_reference.sa_net import sa_resnet

import convattn_plugin  # noqa: F401  (registers the models and tags)
from convattn_plugin.models import ArchitectureMismatchError
from convattn_plugin.models.published_weights import PUBLISHED

SIZE = 64
# tag -> (file in PyTorch's legacy format, the script's entries beside state_dict, epoch and optimizer)
SOURCES = {
    'implus_in1k': (True, lambda: {'acc': torch.tensor(77.5), 'best_acc': torch.tensor(77.6)}),
    'wofmanaf_in1k': (False, lambda: {'best_acc': torch.tensor(77.9)}),
}
BUILDERS = {'sge': sge_resnet, 'sk': sk_resnet, 'shuffle': sa_resnet}
ATTN_PARAMS = ('.sge.', '.sa.')


def _reference(model: str, seed: int = 0) -> torch.nn.Module:
    depth, kind = model[len('resnet'):].split('_')
    torch.manual_seed(seed)
    reference = randomize_(BUILDERS[kind](int(depth)), seed)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():  # SGE's / SA's own parameters start at 0 and 1: random, so a mix-up shows
        for name, p in reference.named_parameters():
            if any(a in name for a in ATTN_PARAMS):
                p.add_(torch.randn(p.shape, generator=g) * 0.5)
    return reference


def _authors_file(tmp_path, name: str, seed: int = 0):
    model, tag = name.split('.')
    reference = _reference(model, seed)
    legacy, extra = SOURCES[tag]
    path = tmp_path / f'{model}.pth.tar'
    save_training_checkpoint(reference, path, legacy, extra())
    return reference, path


def _load(name: str, path, **kwargs):
    return timm.create_model(name, pretrained=True, pretrained_cfg_overlay=dict(file=str(path)), **kwargs).eval()


def _check_same_logits(name, tmp_path):
    reference, path = _authors_file(tmp_path, name)
    ours = _load(name, path)
    x = torch.randn(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected, got = reference(x), ours(x)
    assert expected.abs().max() > 1e-3  # the random model is not degenerate
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


FIFTY = ['resnet50_sge.implus_in1k', 'resnet50_sk.implus_in1k', 'resnet50_shuffle.wofmanaf_in1k']
DEEP = ['resnet101_sge.implus_in1k', 'resnet101_sk.implus_in1k', 'resnet101_shuffle.wofmanaf_in1k']


@pytest.mark.parametrize('name', [*FIFTY, *(pytest.param(n, marks=pytest.mark.exhaustive) for n in DEEP)])
def test_authors_file_gives_authors_logits(name, tmp_path, one_thread):
    _check_same_logits(name, tmp_path)


def test_the_tags_are_registered_with_the_readme_figures():
    assert sorted(n for n, e in PUBLISHED.items() if e.tag in SOURCES) == sorted(FIFTY + DEEP)
    assert PUBLISHED['resnet101_sk.implus_in1k'].top1 == 78.792 and PUBLISHED['resnet50_sge.implus_in1k'].top5 == 93.664
    assert PUBLISHED['resnet101_shuffle.wofmanaf_in1k'].top5 is None  # the README gives none
    for name in FIFTY + DEEP:
        cfg = timm.models.get_pretrained_cfg(name)
        assert cfg.license == 'unknown' and 'no licence file' in ' '.join(cfg.notes)
    assert 'code 474p' in ' '.join(timm.models.get_pretrained_cfg('resnet50_shuffle.wofmanaf_in1k').notes)


def test_sk_tag_builds_the_two_branch_unit_of_resnet_sk():
    block = timm.create_model('resnet50_sk.implus_in1k').layer2[0]
    unit = block.conv2
    assert [p.conv.groups for p in unit.paths] == [1, 32] and [p.conv.dilation for p in unit.paths] == [(1, 1)] * 2
    assert [p.conv.stride for p in unit.paths] == [(2, 2)] * 2  # the block's stride, on both branches
    assert unit.attn.fc_reduce.out_channels == 128 // 16 and unit.attn.fc_select.out_channels == 2 * 128
    assert isinstance(block.bn2, torch.nn.Identity)


@pytest.mark.parametrize('name, cls', [('resnet50_sge.implus_in1k', 'SpatialGroupEnhance'),
                                       ('resnet50_shuffle.wofmanaf_in1k', 'ShuffleAttention')])
def test_sge_and_sa_tags_put_64_groups_after_bn3(name, cls):
    model = timm.create_model(name)
    for layer in (model.layer1, model.layer4):
        assert all(type(b.se).__name__ == cls and b.se.groups == 64 for b in layer)


def test_other_depth_is_refused_listing_keys(tmp_path, one_thread):
    _, path = _authors_file(tmp_path, 'resnet50_sge.implus_in1k')
    with pytest.raises(ArchitectureMismatchError) as e:
        _load('resnet101_sge.implus_in1k', path)
    assert 'missing (model has, file lacks): layer3.6.se.weight' in str(e.value)
    assert 'layer3.22.conv3.weight' in str(e.value)


# Keys as the tag's conversion leaves them: the other source's names stay the authors'.
@pytest.mark.parametrize('file_of, tag, listed', [
    ('resnet50_shuffle.wofmanaf_in1k', 'resnet50_sge.implus_in1k',
     ['unexpected (file has, model lacks): layer1.0.sa.cweight', 'missing (model has, file lacks): layer4.2.se.bias']),
    ('resnet50_sge.implus_in1k', 'resnet50_sk.implus_in1k',
     ['unexpected (file has, model lacks): layer1.0.sge.weight',
      'missing (model has, file lacks): layer1.0.conv2.paths.1.conv.weight',
      'missing (model has, file lacks): layer1.0.conv2.attn.fc_select.weight']),
    ('resnet50_sk.implus_in1k', 'resnet50_shuffle.wofmanaf_in1k',
     ['missing (model has, file lacks): layer2.3.se.gn.bias',
      'unexpected (file has, model lacks): layer2.3.conv2g.weight',
      'unexpected (file has, model lacks): layer2.3.conv_fc2.weight']),
])
def test_another_architecture_is_refused_listing_keys(file_of, tag, listed, tmp_path, one_thread):
    _, path = _authors_file(tmp_path, file_of)
    with pytest.raises(ArchitectureMismatchError, match="is not the authors'") as e:
        _load(tag, path)
    for line in listed:
        assert line in str(e.value)


def test_without_file_the_error_names_the_drive(tmp_path):
    with pytest.raises(FileNotFoundError, match=r'pan\.baidu\.com/s/16L0enJxKMd9LJ8B4dbGmtw'):
        _load('resnet101_shuffle.wofmanaf_in1k', tmp_path / 'missing.pth.tar')
    with pytest.raises(FileNotFoundError, match='drive.google.com/open.id=13HPCjrEle6aFbiCo8Afkr2jJssdNwdRn'):
        _load('resnet50_sge.implus_in1k', tmp_path / 'missing.pth.tar')


def test_sk_tag_refuses_the_papers_dilated_branch():
    with pytest.raises(ValueError, match=r'attn_kwargs=.*conflicts with the authors'):
        timm.create_model('resnet50_sk.implus_in1k', attn_kwargs=dict(dilations=(1, 2)))


def test_other_num_classes_keeps_the_sk_backbone(tmp_path, one_thread):
    reference, path = _authors_file(tmp_path, 'resnet50_sk.implus_in1k')
    ours = _load('resnet50_sk.implus_in1k', path, num_classes=10)
    assert ours.fc.out_features == 10
    torch.testing.assert_close(ours.layer3[1].conv2.paths[1].conv.weight, reference.layer3[1].conv2g.weight)
    torch.testing.assert_close(ours.layer3[1].conv2.attn.bn.running_var, reference.layer3[1].bn_fc1.running_var)
