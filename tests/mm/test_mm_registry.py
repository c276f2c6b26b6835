"""Registration into mmengine's root MODELS: layers, backbones, presets; no collisions."""
from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
import torch
from mmengine.registry import MODELS, Registry

import convattn_plugin.mm as cmm
from convattn_plugin.layers import get_attn_info, list_attentions

MMCV_NAMES = ('NonLocal2d', 'ContextBlock', 'GeneralizedAttention')


def test_every_kind_is_a_layer_with_a_prefixed_name():
    table = cmm.mm_layer_names()
    assert sorted(table) == list_attentions()
    assert table['cbam'] == 'ConvAttnCbam' and table['eca'] == 'ConvAttnEca' and table['nonlocal'] == 'ConvAttnNonlocal'
    for kind, name in table.items():
        cls = MODELS.get(name)
        assert cls is not None and issubclass(cls, get_attn_info(kind).cls), kind


@pytest.mark.parametrize('kind', list_attentions())
def test_layer_name_derives_from_the_kind(kind):
    name = cmm.mm_layer_name(kind)
    assert name.startswith('ConvAttn') and name[len('ConvAttn'):].lower() == kind.replace('_', '')
    assert cmm.mm_layer_name(kind.upper()) == name       # the registry's names are case-insensitive


def test_old_class_derived_names_are_gone():
    # Before issue 21 the names followed the Python class; one name per thing now.
    for old in ('ConvAttnCBAM', 'ConvAttnEfficientChannelAttn', 'ConvAttnNonLocal2d', 'ConvAttnGlobalContext'):
        assert old not in MODELS.module_dict
    with pytest.raises(ValueError, match='unknown attention kind'):
        cmm.mm_layer_name('cbamm')


def test_every_layer_name_in_the_docs_and_configs_is_registered():
    # a config copied from the docs must build: no layer name of an older scheme left anywhere
    repo = Path(__file__).resolve().parents[2]
    files = [repo / 'README.md', *repo.glob('docs/*.md'), *repo.glob('configs/**/*.md'), *repo.glob('configs/**/*.py')]
    named = {m for f in files for m in re.findall(r"type=['\"](ConvAttn\w+)['\"]", f.read_text(encoding='utf-8'))}
    assert {'ConvAttnCbam', 'ConvAttnGc', 'ConvAttnResNet'} <= named  # the scan sees the plugin examples
    assert sorted(n for n in named if n not in MODELS.module_dict) == []


def test_user_kinds_get_camel_case_names_and_collisions_are_refused():
    from convattn_plugin.layers import register_attention
    from convattn_plugin.layers.registry import _REGISTRY

    class Gate(torch.nn.Identity):
        def __init__(self, channels):
            super().__init__()

    try:
        register_attention('my_test_gate')(Gate)
        assert cmm.register_attention_layers()['my_test_gate'] == 'ConvAttnMyTestGate'
        assert MODELS.get('ConvAttnMyTestGate') is not None
        register_attention('mytest_gate')(Gate)       # also ConvAttnMytestGate: distinct
        register_attention('my_testgate')(Gate)       # ConvAttnMyTestgate: distinct
        register_attention('mytestgate_')(Gate)       # ConvAttnMytestgate
        register_attention('my_test_gate_')(Gate)     # ConvAttnMyTestGate again
        with pytest.raises(ValueError, match="'my_test_gate' and 'my_test_gate_' both give the mmengine layer "
                                             "name 'ConvAttnMyTestGate'"):
            cmm.register_attention_layers()
    finally:
        for kind in ('my_test_gate', 'mytest_gate', 'my_testgate', 'mytestgate_', 'my_test_gate_'):
            _REGISTRY.pop(kind, None)
        for name in ('ConvAttnMyTestGate', 'ConvAttnMytestGate', 'ConvAttnMyTestgate', 'ConvAttnMytestgate'):
            MODELS.module_dict.pop(name, None)


@pytest.mark.parametrize('kind', list_attentions())
def test_layer_builds_from_another_scope_and_runs(kind):
    # A child registry stands for mmdet's / mmseg's (not installed here): lookups reach the root.
    child = Registry('model', parent=MODELS, scope=f'fake_downstream_{kind}')
    layer = child.build(dict(type=cmm.mm_layer_name(kind), in_channels=16))
    x = torch.randn(2, 16, 8, 8)
    assert layer(x).shape == x.shape
    assert layer.channels == 16


def test_layer_takes_channels_or_in_channels_not_both():
    cls = MODELS.get('ConvAttnCbam')
    assert cls(8).channels == cls(in_channels=8).channels == 8
    with pytest.raises(ValueError, match='exactly one of channels= or in_channels='):
        cls(8, in_channels=8)


def test_mmcv_plugin_builder_accepts_our_layers():
    build_plugin_layer = pytest.importorskip('mmcv.cnn').build_plugin_layer
    name, layer = build_plugin_layer(dict(type='ConvAttnCbam', rd_ratio=1 / 4), postfix='_1', in_channels=32)
    assert name == 'convattn_cbam_1'
    assert isinstance(layer, get_attn_info('cbam').cls) and layer.fc1.out_channels == 8


def test_mmcv_entries_are_untouched():
    mmcv_cnn = pytest.importorskip('mmcv.cnn')  # registers mmcv's own layers
    for name in MMCV_NAMES:
        cls = MODELS.get(name)
        assert cls is getattr(mmcv_cnn, name), name
        assert cls.__module__.startswith('mmcv.'), name
    ours = [n for n, c in MODELS.module_dict.items() if getattr(c, '__module__', '').startswith('convattn_plugin')]
    assert ours and all(n.startswith('ConvAttn') for n in ours), ours


def test_backbones_and_presets_are_registered_in_the_root():
    for name in ('ConvAttnResNet', 'ConvAttnVGG', 'ConvAttnBackbone'):
        assert name in MODELS.module_dict
    from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
    b = MMPRETRAIN_MODELS.build(dict(type='ConvAttnBackbone', arch='resnet18_cbam'))
    assert type(b).__name__ == 'ConvAttnResNet' and b.depth == 18 and b.attention == 'cbam'


def test_presets_cover_the_families():
    names = cmm.list_presets()
    for n in ('resnet18', 'resnet18_cbam', 'resnet50_cbam', 'vgg16_localattn', 'vgg16_bn_eca', 'vgg19_bn'):
        assert n in names
    assert len(names) == len(set(names)) == (5 + 8) * (1 + len(list_attentions()))
    cls, kw = cmm.parse_preset('vgg16_bn_localattn')
    assert cls is cmm.ConvAttnVGG and kw == dict(depth=16, attention='localattn', with_bn=True)


def test_preset_equals_the_explicit_backbone():
    torch.manual_seed(0)
    a = cmm.ConvAttnBackbone('resnet18_cbam', out_indices=(1, 3))
    b = cmm.ConvAttnResNet(depth=18, attention='cbam', out_indices=(1, 3))
    assert a.state_dict().keys() == b.state_dict().keys()
    with pytest.raises(ValueError, match='sets .*depth'):
        cmm.ConvAttnBackbone('resnet18_cbam', depth=50)


def test_registering_twice_is_harmless():
    before = {n: MODELS.get(n) for n in cmm.mm_layer_names().values()}
    assert cmm.register_attention_layers() == cmm.mm_layer_names()
    assert {n: MODELS.get(n) for n in before} == before  # same classes, nothing replaced
    importlib.reload(cmm)  # re-runs every registration, the model hub's included
    assert MODELS.get('ConvAttnCbam') is before['ConvAttnCbam']
    assert MODELS.get('ConvAttnResNet') is not None


def test_configs_readme_table_is_the_registry():
    # configs/README.md lists every kind's layer name; it must be what mm_layer_name derives.
    import re
    from pathlib import Path
    text = (Path(__file__).resolve().parents[2] / 'configs' / 'README.md').read_text()
    section = text[text.index('## Registry names'):]
    listed = dict(re.findall(r'`([a-z0-9_]+)` \| `(ConvAttn[A-Za-z0-9]+)`', section))
    assert listed == cmm.mm_layer_names()
