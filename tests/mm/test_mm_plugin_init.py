"""A parent's ``init_weights()`` (mmdet's / mmseg's ResNet) keeps every kind's own initialisation.

mmdet's ResNet initialises all its descendants with ``init_cfg`` (Kaiming on ``Conv2d``,
constant 1 on BatchNorm), plugin layers included; mmengine then calls each child's own
``init_weights()``. The parent here is built the way mmdet builds it (a ``BaseModule`` ResNet,
mmengine ``Sequential`` stages, ``BaseModule`` blocks holding the plugin made by mmcv's
``build_plugin_layer``), without needing mmdet or a compiled mmcv.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn
from mmcv.cnn import build_plugin_layer
from mmengine.model import BaseModule, Sequential

import convattn_plugin.mm  # noqa: F401  (registers the ConvAttn* layers)
from convattn_plugin.layers import get_attn_info, list_attentions
from convattn_plugin.mm import mm_layer_name

CHANNELS = 64
# mmdet's ResNet init_cfg, widened to every layer type the kinds use, so each kind is hit
# (mmengine matches a layer's class name and its direct bases' names: 'BatchNorm2d' reaches
# GateBatchNorm2d, a BatchNorm2d subclass, which '_BatchNorm' does not).
PARENT_INIT = [
    dict(type='Kaiming', layer=['Conv1d', 'Conv2d', 'Linear']),
    dict(type='Constant', val=1, layer=['_BatchNorm', 'BatchNorm2d', 'GroupNorm', 'LayerNorm']),
]


class Block(BaseModule):
    """A residual block that holds a plugin as mmdet's Bottleneck does (``add_module`` by name)."""

    def __init__(self, plugin: dict) -> None:
        super().__init__()
        self.conv = nn.Conv2d(CHANNELS, CHANNELS, 3, padding=1)
        self.bn = nn.BatchNorm2d(CHANNELS)
        name, layer = build_plugin_layer(plugin, in_channels=CHANNELS, postfix='_after_conv')
        self.plugin_name = name
        self.add_module(name, layer)

    @property
    def plugin(self) -> nn.Module:
        return getattr(self, self.plugin_name)


class ParentResNet(BaseModule):
    def __init__(self, plugin: dict) -> None:
        super().__init__(init_cfg=PARENT_INIT)
        self.layer1 = Sequential(Block(plugin), Block(plugin))


def _build(kind: str, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return get_attn_info(kind).cls(CHANNELS)


def _deterministic_keys(kind: str) -> list[str]:
    """State-dict entries whose initial value does not depend on the random seed (zeros, ones, ...)."""
    a, b = _build(kind, 0).state_dict(), _build(kind, 1).state_dict()
    return [k for k in a if torch.equal(a[k], b[k])]


@pytest.mark.parametrize('kind', list_attentions())
def test_parent_init_weights_keeps_the_kinds_initialisation(kind):
    fresh = _build(kind, 0).state_dict()
    deterministic = _deterministic_keys(kind)
    torch.manual_seed(2)
    parent = ParentResNet(dict(type=mm_layer_name(kind)))
    layers = [block.plugin for block in parent.layer1]
    params_before = [[id(p) for p in layer.parameters()] for layer in layers]
    parent.init_weights()
    parent.init_weights()  # the parent's init_cfg reaches the plugin on every call; so does its restore
    for layer, ids in zip(layers, params_before):
        state = layer.state_dict()
        assert [id(p) for p in layer.parameters()] == ids  # the same tensors: optimisers stay valid
        changed = [k for k in deterministic if not torch.equal(state[k], fresh[k])]
        assert not changed, f'{kind}: the parent re-initialised {changed}'
        for k, v in state.items():  # seed-dependent values: the fresh layer's distribution
            if k not in deterministic and v.is_floating_point() and v.numel() >= 64:
                ratio = (v.std() / fresh[k].std()).item()
                assert 0.6 < ratio < 1.67, f'{kind}: {k} has std {ratio:.2f}x a fresh layer\'s'
    # the parent's own layers did get its init_cfg
    assert torch.equal(parent.layer1[0].bn.weight, torch.ones(CHANNELS))


@pytest.mark.parametrize('kind', ['gc', 'nonlocal'])
def test_without_init_weights_the_parent_would_erase_the_zero_init(kind):
    """The defect the mm layers' ``init_weights`` fixes: the pure-torch class loses its zeros."""
    deterministic = _deterministic_keys(kind)
    fresh = _build(kind, 0).state_dict()
    parent = ParentResNet(dict(type=mm_layer_name(kind)))
    for block in parent.layer1:
        block.add_module(block.plugin_name, _build(kind, 3))  # the same layer without init_weights
    parent.init_weights()
    state = parent.layer1[0].plugin.state_dict()
    zeros = [k for k in deterministic if not fresh[k].any()]
    assert zeros and any(state[k].any() for k in zeros), f'{kind}: expected the parent to overwrite {zeros}'


def test_init_weights_keeps_the_layers_options():
    layer = build_plugin_layer(dict(type=mm_layer_name('gc'), rd_ratio=1 / 4), in_channels=CHANNELS)[1]
    with torch.no_grad():
        for p in layer.parameters():
            p.fill_(0.5)
    layer.init_weights()
    assert layer.transform[0].out_channels == CHANNELS // 4
    assert not layer.transform[-1].weight.any() and not layer.transform[-1].bias.any()
    assert layer.transform[0].weight.abs().max() < 0.5  # redrawn, not left at 0.5
