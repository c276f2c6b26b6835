"""Every kind as an mmcv plugin in mmdet's and mmseg's own ResNet-50, and what that route cannot do.

``plugins=[dict(cfg=dict(type='ConvAttn<Class>'), stages=(False, True, True, True),
position='after_conv3')]``: the plugin is built in every Bottleneck of layer2..layer4, the network
runs, and the ResNet's ``init_weights()`` (Kaiming on every conv, 1 on every BN: plugin layers
included) leaves each kind's own initialisation in place (GC's and non-local's zero output).
"""
from __future__ import annotations

import pytest
import torch

from convattn_plugin.layers import get_attn_info, list_attentions

pytestmark = pytest.mark.mmdet

STAGES = (False, True, True, True)


def _plugins(kind: str, position: str = 'after_conv3', **kwargs) -> list[dict]:
    from convattn_plugin.mm import mm_layer_name

    return [dict(cfg=dict(type=mm_layer_name(kind), **kwargs), stages=STAGES, position=position)]


def _resnet(scope: str, kind: str, **kwargs):
    """mmdet's ``ResNet`` or mmseg's ``ResNetV1c`` (its FCN / UPerNet backbone), depth 50, with ``kind``."""
    from mmengine.registry import init_default_scope

    init_default_scope(scope)
    if scope == 'mmdet':
        from mmdet.registry import MODELS
        cfg = dict(type='ResNet', depth=50, out_indices=(0, 1, 2, 3), plugins=_plugins(kind), **kwargs)
    else:
        from mmseg.registry import MODELS
        cfg = dict(type='ResNetV1c', depth=50, out_indices=(0, 1, 2, 3), dilations=(1, 1, 2, 4),
                   strides=(1, 2, 1, 1), contract_dilation=True, plugins=_plugins(kind), **kwargs)
    return MODELS.build(cfg)


def _attn_layers(model, kind: str) -> list[torch.nn.Module]:
    cls = get_attn_info(kind).cls
    return [m for m in model.modules() if isinstance(m, cls)]


def _fresh(kind: str, channels: int, seed: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    return get_attn_info(kind).cls(channels).state_dict()


def _deterministic(kind: str, channels: int) -> dict[str, torch.Tensor]:
    """Entries of a fresh layer that do not depend on the seed (GC's zero conv, BN ones, ...)."""
    a, b = _fresh(kind, channels, 0), _fresh(kind, channels, 1)
    return {k: v for k, v in a.items() if torch.equal(v, b[k])}


def _channels(layer) -> int:
    return layer._init_args[0]


@pytest.mark.parametrize('scope', ['mmdet', 'mmseg'])
@pytest.mark.parametrize('kind', list_attentions())
def test_every_kind_is_a_plugin_of_their_resnet50(scope, kind):
    torch.manual_seed(0)
    model = _resnet(scope, kind)
    layers = _attn_layers(model, kind)
    assert len(layers) == 4 + 6 + 3  # every Bottleneck of layer2..layer4
    assert {_channels(m) for m in layers} == {512, 1024, 2048}  # after_conv3: planes * 4
    model.init_weights()
    for layer in layers:  # their ResNet's init_cfg reached the plugin; the plugin restored its own init
        state = layer.state_dict()
        changed = [k for k, v in _deterministic(kind, _channels(layer)).items() if not torch.equal(state[k], v)]
        assert not changed, f'{scope} ResNet.init_weights() re-initialised {kind}: {changed}'
    assert torch.equal(model.layer1[0].bn1.weight, torch.ones(64))  # and their own init_cfg ran
    model.eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [256, 512, 1024, 2048]
    assert all(torch.isfinite(o).all() for o in outs)


@pytest.mark.parametrize('scope', ['mmdet', 'mmseg'])
def test_gc_output_stays_zero_so_each_block_starts_as_the_plain_block(scope):
    torch.manual_seed(0)
    model = _resnet(scope, 'gc', norm_eval=False)
    model.init_weights()
    last = [m.transform[-1] for m in _attn_layers(model, 'gc')]
    assert last and all(not c.weight.any() and not c.bias.any() for c in last)
    # the same network without the plugins computes the same function
    plain = _resnet(scope, 'gc')
    plain.load_state_dict(model.state_dict())
    for block in (b for stage in (plain.layer2, plain.layer3, plain.layer4) for b in stage):
        block.after_conv3_plugin_names = []
    x = torch.randn(1, 3, 64, 64)
    model.eval(), plain.eval()
    with torch.no_grad():
        assert all(torch.allclose(a, b) for a, b in zip(model(x), plain(x)))


@pytest.mark.parametrize('position', ['after_conv2', 'after_conv3'])
def test_plugin_positions_get_the_branch_width(position):
    from mmengine.registry import init_default_scope
    from mmdet.registry import MODELS

    init_default_scope('mmdet')
    model = MODELS.build(dict(type='ResNet', depth=50, plugins=_plugins('cbam', position)))
    widths = sorted({_channels(m) for m in _attn_layers(model, 'cbam')})
    assert widths == ([128, 256, 512] if position == 'after_conv2' else [512, 1024, 2048])


@pytest.mark.parametrize('scope', ['mmdet', 'mmseg'])
def test_their_basicblock_resnet18_refuses_plugins_our_backbone_does_not(scope):
    """The plugin route's limit (mmdet's and mmseg's own): no plugin on a BasicBlock."""
    from mmengine.registry import init_default_scope

    from convattn_plugin.mm import ConvAttnResNet

    init_default_scope(scope)
    registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
    with pytest.raises(AssertionError, match='Not implemented yet'):
        registry.build(dict(type='ResNet', depth=18, plugins=_plugins('cbam')))
    ours = ConvAttnResNet(depth=18, attention='cbam', out_indices=(0, 1, 2, 3))
    assert len(_attn_layers(ours, 'cbam')) == 8  # every BasicBlock
    outs = ours(torch.randn(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [64, 128, 256, 512]


def test_pretrained_plain_weights_load_and_the_plugin_keeps_its_init(tmp_path):
    """init_cfg=Pretrained from a plain torchvision ResNet-50 file: convs load, GC stays fresh, the log names it."""
    import torchvision
    from mmengine.logging import MMLogger

    torch.manual_seed(0)
    plain = torchvision.models.resnet50()
    ckpt = tmp_path / 'resnet50_plain.pth'
    torch.save(plain.state_dict(), ckpt)
    log_file = tmp_path / 'init.log'
    MMLogger.get_instance(f'pretrained-{tmp_path.name}', log_file=str(log_file))  # 'current' logger
    model = _resnet('mmdet', 'gc', init_cfg=dict(type='Pretrained', checkpoint=str(ckpt)))
    model.init_weights()
    assert torch.equal(model.conv1.weight, plain.conv1.weight)
    assert torch.equal(model.layer3[2].conv2.weight, plain.layer3[2].conv2.weight)
    gc = _attn_layers(model, 'gc')
    assert all(not m.transform[-1].weight.any() for m in gc)
    log = log_file.read_text()
    assert 'missing keys in source state_dict' in log and 'layer2.0.convattn_gc' in log
