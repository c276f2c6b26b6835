"""torchvision's detectors on an attention ResNet through :func:`convattn_plugin.detection.resnet_fpn_backbone`."""
from __future__ import annotations

import pytest
import timm
import torch
import torch.nn as nn
from torchvision.models.detection import FCOS, FasterRCNN, MaskRCNN, RetinaNet
from torchvision.ops.feature_pyramid_network import LastLevelP6P7
from torchvision.ops.misc import FrozenBatchNorm2d

import convattn_plugin  # noqa: F401  (registers resnet18_cbam, ...)
from convattn_plugin.detection import STAGE_STRIDES, AttnThenFrozenBatchNorm2d, resnet_fpn_backbone
from convattn_plugin.models import attention_types

pytestmark = pytest.mark.usefixtures('one_thread')

SIZE = 64  # detector transforms resize to this (torchvision's default is 800)


@pytest.fixture(scope='module')
def plain18() -> dict[str, torch.Tensor]:
    """A plain timm resnet18's weights (random, no download), as a user's checkpoint would be.

    A new timm ResNet zero-initialises each block's last BN, which would make every residual
    branch (and the attention in it) output zero: BN values here are those of a trained model.
    """
    torch.manual_seed(0)
    state = timm.create_model('resnet18').state_dict()
    bn = [k[:-len('.running_var')] for k in state if k.endswith('running_var')]
    for k in bn:
        state[f'{k}.weight'] = torch.rand_like(state[f'{k}.weight']) + 0.5
        state[f'{k}.bias'] = torch.randn_like(state[f'{k}.bias']) * 0.1
        state[f'{k}.running_mean'] = torch.randn_like(state[f'{k}.running_mean']) * 0.1
        state[f'{k}.running_var'] = torch.rand_like(state[f'{k}.running_var']) + 0.5
    return state


def _attention_params(module: nn.Module) -> dict[str, nn.Parameter]:
    attn = attention_types()
    ids = {id(p) for m in module.modules() if isinstance(m, attn) for p in m.parameters()}
    return {n: p for n, p in module.named_parameters() if id(p) in ids}


def _detector(arch: str, backbone_name: str, weights) -> nn.Module:
    size = dict(min_size=SIZE, max_size=SIZE)
    if arch in ('retinanet', 'fcos'):  # torchvision's layout for these two: C3-C5 and P6/P7
        backbone = resnet_fpn_backbone(backbone_name, weights=weights, returned_layers=[2, 3, 4],
                                       extra_blocks=LastLevelP6P7(256, 256))
        return (RetinaNet if arch == 'retinanet' else FCOS)(backbone, num_classes=3, **size)
    backbone = resnet_fpn_backbone(backbone_name, weights=weights)
    return (FasterRCNN if arch == 'fasterrcnn' else MaskRCNN)(backbone, num_classes=3, **size)


def _targets(with_masks: bool) -> list[dict[str, torch.Tensor]]:
    targets = []
    for boxes in ([[4., 6., 30., 40.], [20., 10., 60., 50.]], [[10., 12., 44., 58.]]):
        t = dict(boxes=torch.tensor(boxes), labels=torch.arange(1, len(boxes) + 1))
        if with_masks:
            masks = torch.zeros(len(boxes), SIZE, SIZE, dtype=torch.uint8)
            for m, (x0, y0, x1, y1) in zip(masks, boxes):
                m[int(y0):int(y1), int(x0):int(x1)] = 1
            t['masks'] = masks
        targets.append(t)
    return targets


@pytest.mark.parametrize('arch', ['fasterrcnn', 'maskrcnn', 'retinanet', 'fcos'])
def test_detector_trains_and_detects(arch, plain18):
    torch.manual_seed(0)
    model = _detector(arch, 'resnet18_cbam', plain18)
    images = [torch.rand(3, SIZE, SIZE) for _ in range(2)]

    model.train()
    losses = model(images, _targets(arch == 'maskrcnn'))
    assert losses and all(torch.isfinite(v) for v in losses.values()), losses
    sum(losses.values()).backward()
    attention = _attention_params(model.backbone.body)
    # the fresh attention trains in every stage, layer1 (a frozen stage) included
    assert any(n.startswith('layer1.') for n in attention)
    no_grad = [n for n, p in attention.items() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not no_grad, f'attention parameters without gradient: {no_grad}'
    frozen = [n for n, p in model.backbone.body.named_parameters() if not p.requires_grad]
    assert frozen and all(model.backbone.body.get_parameter(n).grad is None for n in frozen)

    model.eval()
    with torch.no_grad():
        detections = model(images)
    assert len(detections) == 2
    for d in detections:
        n = len(d['boxes'])
        assert d['boxes'].shape == (n, 4) and d['scores'].shape == (n,) and d['labels'].shape == (n,)
        assert torch.isfinite(d['boxes']).all() and ((d['labels'] >= 1) & (d['labels'] < 3)).all()
        if arch == 'maskrcnn':
            assert d['masks'].shape == (n, 1, SIZE, SIZE)


@pytest.mark.parametrize('name, layers, extra, channels', [
    ('resnet18_cbam', None, None, [64, 128, 256, 512]),
    ('resnet50_gc', [2, 3, 4], 'p6p7', [512, 1024, 2048]),
    ('resnet18', [3], None, [256]),  # timm's own ResNet: the plain baseline
])
def test_feature_maps_names_channels_strides(name, layers, extra, channels):
    backbone = resnet_fpn_backbone(name, returned_layers=layers, out_channels=32,
                                   extra_blocks=LastLevelP6P7(32, 32) if extra else None)
    layers = layers or [1, 2, 3, 4]
    assert backbone.out_channels == 32
    assert backbone.body.return_layers == {f'layer{k}': str(i) for i, k in enumerate(layers)}
    assert [b[0].in_channels for b in backbone.fpn.inner_blocks] == channels
    x = torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        body = backbone.body(x)
        out = backbone(x)
    assert [v.shape[1] for v in body.values()] == channels
    names = [str(i) for i in range(len(layers))] + (['p6', 'p7'] if extra else ['pool'])
    assert list(out) == names
    sides = [128 // STAGE_STRIDES[k] for k in layers]
    sides += [sides[-1] // 2, sides[-1] // 4] if extra else [sides[-1] // 2]  # P6/P7 at /2, /4; pool at /2
    assert [tuple(v.shape[1:]) for v in out.values()] == [(32, s, s) for s in sides]


@pytest.mark.parametrize('trainable', [0, 3, 5])
def test_frozen_stages_and_batch_norm(trainable, plain18):
    backbone = resnet_fpn_backbone('resnet18_cbam', weights=plain18, trainable_layers=trainable)
    body = backbone.body
    attention = _attention_params(body)
    trained = ('layer4', 'layer3', 'layer2', 'layer1', 'conv1')[:trainable]
    for n, p in body.named_parameters():
        expected = n in attention or n.startswith(trained)
        assert p.requires_grad == expected, n
    assert all(p.requires_grad for p in backbone.fpn.parameters())
    inside_attention = {id(m) for a in body.modules() if isinstance(a, attention_types()) for m in a.modules()}
    plain_bn = [n for n, m in body.named_modules() if isinstance(m, nn.BatchNorm2d) and id(m) not in inside_attention]
    assert not plain_bn, f'backbone BatchNorm left unfrozen: {plain_bn}'
    frozen = [m for m in body.modules() if isinstance(m, FrozenBatchNorm2d)]
    assert len(frozen) == 1 + 2 * 8 + 3  # bn1, two per BasicBlock, three downsample BNs
    # the attention's own BatchNorm (CBAM's spatial gate) stays an ordinary, trainable BatchNorm
    spatial_bn = body.layer1[0].se.spatial.bn
    assert type(spatial_bn) is not FrozenBatchNorm2d and isinstance(spatial_bn, nn.BatchNorm2d)
    assert spatial_bn.weight.requires_grad


def test_without_weights_nothing_is_frozen():
    backbone = resnet_fpn_backbone('resnet18_cbam')
    assert backbone.load_report is None
    assert all(p.requires_grad for p in backbone.parameters())
    assert not any(isinstance(m, FrozenBatchNorm2d) for m in backbone.modules())


def test_frozen_batch_norm_keeps_the_output_and_the_attention_inside_bn2(plain18):
    """SimAM sits inside ``bn2`` (a BatchNorm subclass); freezing must not drop it."""
    frozen = resnet_fpn_backbone('resnet18_simam', weights=plain18, trainable_layers=5).eval()
    plain = resnet_fpn_backbone('resnet18_simam', weights=plain18, trainable_layers=5, frozen_bn=False).eval()
    plain.fpn.load_state_dict(frozen.fpn.state_dict())
    assert isinstance(frozen.body.layer1[0].bn2, AttnThenFrozenBatchNorm2d)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        a, b = frozen(x), plain(x)
        no_attn = plain.body.layer1[0].bn2.attn
        plain.body.layer1[0].bn2.attn = nn.Identity()
        c = plain(x)
        plain.body.layer1[0].bn2.attn = no_attn
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)
    assert not torch.allclose(a['0'], c['0'], atol=1e-3)  # the attention does change the output


def test_plain_weights_loaded_with_only_attention_fresh(plain18, tmp_path):
    path = tmp_path / 'resnet18.pth'
    torch.save(plain18, path)
    backbone = resnet_fpn_backbone('resnet18_cbam', weights=path)
    report = backbone.load_report
    assert report.attention_keys and report.missing_keys == report.attention_keys
    assert all(k.split('.')[2] == 'se' for k in report.attention_keys)  # layer{i}.{j}.se.*
    assert not report.unexpected_keys and not report.mismatched_keys
    assert torch.equal(backbone.body.layer3[1].conv2.weight, plain18['layer3.1.conv2.weight'])
    assert torch.equal(backbone.body.layer2[0].downsample[1].running_var, plain18['layer2.0.downsample.1.running_var'])


def test_checkpoint_of_another_backbone_is_refused(plain18):
    with pytest.raises(ValueError, match='does not cover the backbone.*missing'):
        resnet_fpn_backbone('resnet34_cbam', weights=plain18)


@pytest.mark.parametrize('kwargs, message', [
    (dict(returned_layers=[0, 1]), 'returned_layers must be .* 1..4'),
    (dict(returned_layers=[3, 2]), 'increasing'),
    (dict(returned_layers=[]), 'non-empty'),
    (dict(returned_layers='234'), 'returned_layers'),
    (dict(trainable_layers=6), 'trainable_layers must be an int in 0..5'),
    (dict(trainable_layers=True), 'trainable_layers must be an int'),
    (dict(trainable_layers=3), 'would freeze randomly initialised layers'),
    (dict(out_channels=0), 'out_channels must be a positive int'),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        resnet_fpn_backbone('resnet18_cbam', **kwargs)


@pytest.mark.parametrize('name, message', [
    ('resnet18_nosuchkind', 'not a timm model name'),
    (18, 'not a timm model name'),
    ('mobilenetv3_small_050', 'not a timm ResNet'),
])
def test_bad_names(name, message):
    with pytest.raises(ValueError, match=message):
        resnet_fpn_backbone(name)
