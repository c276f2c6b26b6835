"""``ConvAttnResNet`` with ``init_cfg=Pretrained`` from a plain ResNet checkpoint.

torchvision's ``resnet{18,50}`` state dict and mmpretrain's ResNet layout (``backbone.*`` under
``state_dict``) fill every tensor but the attention; the attention keeps its own initialisation
and the logged report names each of its keys; a ResNet of another depth is refused, every key
listed. Runs in the default suite (mmengine + mmpretrain, no mmdet).
"""
from __future__ import annotations

import pytest
import torch
import torchvision

from convattn_plugin.mm import ConvAttnResNet


def _plain_file(tmp_path, depth: int, wrap: str = 'torchvision') -> tuple:
    torch.manual_seed(depth)
    plain = getattr(torchvision.models, f'resnet{depth}')().state_dict()
    path = tmp_path / f'resnet{depth}_{wrap}.pth'
    if wrap == 'torchvision':
        torch.save(plain, path)
    else:  # an mmpretrain ImageClassifier checkpoint: backbone.*, head.fc.*, under state_dict with meta
        saved = {('head.' if k.startswith('fc.') else 'backbone.') + k: v for k, v in plain.items()}
        torch.save({'state_dict': saved, 'meta': {'epoch': 1}}, path)
    return plain, path


def _backbone(depth: int, path, attention: str = 'cbam', **kwargs) -> ConvAttnResNet:
    torch.manual_seed(100)
    return ConvAttnResNet(depth=depth, attention=attention, out_indices=(0, 1, 2, 3),
                          init_cfg=dict(type='Pretrained', checkpoint=str(path)), **kwargs)


def _attention_keys(model: ConvAttnResNet) -> set[str]:
    from convattn_plugin.models.attention_factory import attention_types

    names = [n for n, m in model.timm_model.named_modules() if isinstance(m, attention_types())]
    return {k for k in model.timm_model.state_dict() if any(k.startswith(n + '.') for n in names)}


@pytest.mark.parametrize('depth, wrap', [(18, 'torchvision'), (50, 'torchvision'), (18, 'mmpretrain')])
def test_plain_weights_fill_all_but_the_attention_and_the_log_names_each(tmp_path, depth, wrap):
    from mmengine.logging import MMLogger

    plain, path = _plain_file(tmp_path, depth, wrap)
    model = _backbone(depth, path)
    before = {k: v.clone() for k, v in model.timm_model.state_dict().items()}
    attention = _attention_keys(model)
    assert attention and len(attention) < len(before)
    log_file = tmp_path / 'init.log'
    MMLogger.get_instance(f'plain-{depth}-{wrap}', log_file=str(log_file))  # becomes the 'current' logger
    model.init_weights()

    got = model.timm_model.state_dict()
    backbone_keys = set(got) - attention
    assert backbone_keys == set(plain) - {'fc.weight', 'fc.bias'}
    assert all(torch.equal(got[k], plain[k]) for k in backbone_keys)
    assert not torch.equal(before['layer4.1.conv2.weight'], plain['layer4.1.conv2.weight'])  # it did change
    assert all(torch.equal(got[k], before[k]) for k in attention)  # the attention kept its own init

    report = model.pretrained_report
    assert set(report.missing_keys) == attention
    assert set(report.unexpected_keys) == ({'fc.weight', 'fc.bias'} if wrap == 'torchvision'
                                           else {'head.fc.weight', 'head.fc.bias'})
    log = log_file.read_text()
    assert f'{len(attention)} attention keys keep their own initialisation' in log
    assert all(f'missing: {k}' in log for k in attention)


def test_the_runner_path_loads_through_the_model_init_weights(tmp_path):
    """mmengine's Runner calls ``model.init_weights()``: the backbone is a child of the model."""
    from mmpretrain.models import ImageClassifier

    plain, path = _plain_file(tmp_path, 18)
    model = ImageClassifier(
        backbone=dict(type='ConvAttnResNet', depth=18, attention='se',
                      init_cfg=dict(type='Pretrained', checkpoint=str(path))),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=3, in_channels=512))
    model.init_weights()
    got = model.backbone.timm_model
    assert torch.equal(got.layer3[1].conv2.weight, plain['layer3.1.conv2.weight'])
    assert torch.equal(got.bn1.running_mean, plain['bn1.running_mean'])
    assert len(model.backbone.pretrained_report.missing_keys) == len(_attention_keys(model.backbone)) > 0


def test_own_layout_under_a_prefix_still_loads(tmp_path):
    plain, path = _plain_file(tmp_path, 18)
    source = _backbone(18, path)
    source.init_weights()
    own = tmp_path / 'trained.pth'
    torch.save({'state_dict': {'backbone.' + k: v for k, v in source.state_dict().items()}}, own)
    torch.manual_seed(7)
    model = ConvAttnResNet(depth=18, attention='cbam', out_indices=(0, 1, 2, 3),
                           init_cfg=dict(type='Pretrained', checkpoint=str(own), prefix='backbone.'))
    model.init_weights()
    ref, got = source.state_dict(), model.state_dict()
    assert got.keys() == ref.keys() and all(torch.equal(got[k], ref[k]) for k in ref)
    assert model.pretrained_report.missing_keys == []


def test_a_placement_that_replaces_conv2_drops_the_plain_conv2(tmp_path):
    """SK's paper placement: an SK unit in place of each bottleneck's conv2 + bn2 + ReLU."""
    plain, path = _plain_file(tmp_path, 50)
    model = _backbone(50, path, attention='sk')
    model.init_weights()
    got = model.timm_model.state_dict()
    assert torch.equal(got['layer2.3.conv3.weight'], plain['layer2.3.conv3.weight'])
    unexpected = set(model.pretrained_report.unexpected_keys)
    assert {'layer1.0.conv2.weight', 'layer1.0.bn2.weight', 'fc.weight'} <= unexpected
    assert not any(k.endswith(('conv1.weight', 'conv3.weight')) for k in unexpected)


def test_pruned_stages_drop_their_keys(tmp_path):
    plain, path = _plain_file(tmp_path, 18)
    model = ConvAttnResNet(depth=18, attention='eca', out_indices=(0, 1),
                           init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    model.init_weights()
    assert torch.equal(model.timm_model.layer2[1].conv2.weight, plain['layer2.1.conv2.weight'])
    assert 'layer4.1.conv2.weight' in model.pretrained_report.unexpected_keys


@pytest.mark.parametrize('model_depth, file_depth, shown', [
    (50, 18, 'missing: layer1.0.conv3.weight'),
    (18, 50, 'shape-mismatched: layer1.0.conv1.weight: model (64, 64, 3, 3), checkpoint (64, 64, 1, 1)'),
    (18, 34, 'not in this model: layer1.2.conv1.weight'),  # same shapes, more blocks
])
def test_another_depth_is_refused_listing_every_key(tmp_path, model_depth, file_depth, shown):
    plain, path = _plain_file(tmp_path, file_depth)
    model = _backbone(model_depth, path)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match=f'is not a ResNet-{model_depth} backbone') as info:
        model.init_weights()
    message = str(info.value)
    assert shown in message
    own = model.timm_model.state_dict()
    if file_depth == 34:  # every extra block of ResNet-34 is listed, tensor by tensor
        extra = [k for k in plain if k.startswith('layer') and int(k.split('.')[1]) >= 2]
        assert extra and all(f'not in this model: {k}' in message for k in extra)
    else:
        wrong = [k for k in own if k in plain and own[k].shape != plain[k].shape]
        assert all(f'shape-mismatched: {k}:' in message for k in wrong)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())  # nothing loaded


def test_a_prefix_that_matches_nothing_is_named(tmp_path):
    plain, path = _plain_file(tmp_path, 18)
    model = ConvAttnResNet(depth=18, attention='cbam',
                           init_cfg=dict(type='Pretrained', checkpoint=str(path), prefix='encoder'))
    with pytest.raises(ValueError, match=r"prefix 'encoder\.' matches no key .* start with: bn1\., conv1\., fc\."):
        model.init_weights()


@pytest.mark.parametrize('checkpoint, match', [
    ('s3://bucket/resnet18.pth', r"unsupported scheme; accepted: a local path, http:// https:// URLs"),
    ('torchvision://resnet_nonexistent', r"no model 'resnet_nonexistent' in mmengine's torchvision:// table"),
])
def test_unsupported_checkpoint_names_are_refused(checkpoint, match):
    model = ConvAttnResNet(depth=18, attention='cbam', init_cfg=dict(type='Pretrained', checkpoint=checkpoint))
    with pytest.raises((ValueError, KeyError), match=match):
        model.init_weights()
