"""A config naming an unknown kind, depth or preset fails at model build, listing the choices."""
from __future__ import annotations

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS


@pytest.fixture(scope='module')
def digits_cfg(kit):
    init_default_scope('mmpretrain')
    return Config.fromfile(str(kit.CFG_CBAM))  # loading succeeds; building is what fails


@pytest.mark.parametrize('backbone, pattern', [
    (dict(arch='resnet18_cbamm'), r"unknown attention kind 'cbamm'.*cbam.*localattn"),
    (dict(arch='resnet19_cbam'), r'depth 19 is not one of \(18, 34, 50, 101, 152\)'),
    (dict(arch='resnet18_bn_cbam'), r'only VGG has _bn variants'),
    (dict(arch='densenet121'), r'valid presets are resnet\{18,34,50,101,152\}\[_KIND\] and vgg\{11,13,16,19\}'),
    (dict(type='ConvAttnResNet', arch=None, depth=18, attention='cbma'),
     r"unknown attention kind 'cbma'; known kinds: bam, cbam, .*triplet"),
    (dict(type='ConvAttnResNet', arch=None, depth=20, attention='cbam'),
     r'invalid depth 20; valid depths: \(18, 34, 50, 101, 152\)'),
    (dict(type='ConvAttnVGG', arch=None, depth=15, attention='localattn'),
     r'invalid depth 15; valid depths: \(11, 13, 16, 19\)'),
    (dict(type='ConvAttnVGG', arch=None, depth=16, attention=7), r'attention must be a kind name or None'),
    (dict(out_indices=(4,)), r'out_indices must be ints in \[0, 3\]'),
    (dict(type='ConvAttnResNet', arch=None, depth=18, stem='tiny'), r"valid stems: 'imagenet', 'cifar'"),
])
def test_bad_backbone_fails_at_build_with_the_choices(digits_cfg, backbone, pattern):
    cfg = digits_cfg.copy()
    model = cfg.model.copy()
    bb = dict(model.backbone)
    for k, v in backbone.items():
        if v is None:
            bb.pop(k)
        else:
            bb[k] = v
    model.backbone = bb
    with pytest.raises(ValueError, match=pattern):
        MODELS.build(model)


def test_the_same_config_builds_when_valid(digits_cfg):
    model = MODELS.build(digits_cfg.model)
    assert model.backbone.attention == 'cbam' and model.head.num_classes == 10
