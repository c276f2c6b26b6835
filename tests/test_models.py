"""The ``{backbone}_{kind}`` timm models: registry, timm's machinery, placement, bad input.

Every kind gets the cheap checks at 64 px on ResNet-18/34/50, VGG-11 and VGG-16-BN and on one
of the other backbones in turn (every registered name under ``-m exhaustive``). ``torch.compile`` and ONNX are in
``test_timm_compile_onnx.py``; timm's own model checks in ``test_timm_native.py``.
"""
from __future__ import annotations

import dataclasses
import warnings

import pytest
import timm
import torch
from timm.models import model_entrypoint

import convattn_plugin  # noqa: F401  (registers the models)
from convattn_plugin.layers import get_attn_info, list_attentions
from convattn_plugin.models import (
    MOBILENETV2_ARCHS, RESNET_ARCHS, VGG_ARCHS, ActAttn, list_attn_models, register_family_kind, register_models,
)
from convattn_plugin.models.attn_resnet import PAPER_PLACEMENT, RESNET_FAMILY

# The ResNet (ResNeXt included) and VGG names, by the family that registered them (timm's module
# filter, not a name prefix): the MobileNetV2 family's have their own tests (test_models_mobilenetv2.py).
RESNET_NAMES = timm.list_models(module=RESNET_FAMILY.module.rsplit('.', 1)[-1])
ALL_MODELS = sorted({*RESNET_NAMES, *timm.list_models(module='attn_vgg')})
IMG, BATCH, NUM_CLASSES = 64, 2, 3
# Every kind on these in the default run (BasicBlock, Bottleneck, VGG with and without BN) ...
EVERY_KIND_ON = ('resnet18', 'resnet34', 'resnet50', 'vgg11', 'vgg16_bn')
# ... and the deeper / other VGG backbones (the same widths, so the same attention code paths)
# rotated over the kinds: each kind gets one, each backbone several; all of them under -m exhaustive.
_ROTATED = [a for a in (*RESNET_ARCHS, *VGG_ARCHS) if a not in EVERY_KIND_ON]


def _model_sample() -> list:
    default = [f'{arch}_{kind}' for kind in list_attentions() for arch in EVERY_KIND_ON]
    default += [f'{_ROTATED[i % len(_ROTATED)]}_{kind}' for i, kind in enumerate(list_attentions())]
    return [*default, *(pytest.param(n, marks=pytest.mark.exhaustive) for n in ALL_MODELS if n not in default)]


pytestmark = pytest.mark.usefixtures('one_thread')


def _split(name: str) -> tuple[str, str]:
    """``'vgg16_bn_se'`` -> ``('vgg16_bn', 'se')``."""
    arch, kind = name.rsplit('_', 1)
    return arch, kind


def _create(name: str, **kwargs) -> torch.nn.Module:
    kwargs.setdefault('num_classes', NUM_CLASSES)
    if name.startswith('vgg'):
        # timm's VGG head is a 4096-wide 7x7 conv (100M parameters); a narrow one keeps the sweep
        # fast and leaves the backbone, where the attention is, as it is.
        kwargs.setdefault('mlp_ratio', 1 / 64)
    return timm.create_model(name, **kwargs)


def _attn_stages(model: torch.nn.Module) -> dict[int, list[torch.nn.Module]]:
    """Attention modules per stage (ResNet: 0..3 = layer1..4; VGG: 0..4 = conv stages)."""
    stages: dict[int, list[torch.nn.Module]] = {}
    if hasattr(model, 'layer1'):
        # In blocks' se slot, before their bn2, after their act1, in place of their conv2 (a
        # module that is not a conv: sk's unit), or on a stage's output.
        for s in range(4):
            layer = getattr(model, f'layer{s + 1}')
            found = [m for b in layer[:len(layer) - hasattr(layer, 'attn')]
                     for m in (b.se, getattr(b.bn2, 'attn', None), getattr(b.act1, 'attn', None),
                               None if isinstance(b.conv2, torch.nn.Conv2d) else b.conv2) if m is not None]
            found += [layer.attn] if hasattr(layer, 'attn') else []
            if found:
                stages[s] = found
    else:
        for s, idx in enumerate(model.feature_ends[:-1]):
            if isinstance(model.features[idx], ActAttn):
                stages[s] = [model.features[idx].attn]
    return stages


def _randomise_zero_params(model: torch.nn.Module) -> None:
    """Zero-initialised scales (gamma, alpha, ...) make new attention the identity; wake them up."""
    with torch.no_grad():
        for p in model.parameters():
            if not p.any():
                p.normal_(0, 0.5)


# ---------------------------------------------------------------------------------------------
# Registry

def test_every_backbone_and_kind_is_registered():
    expected = {f'{arch}_{kind}' for arch in [*RESNET_ARCHS, *VGG_ARCHS] for kind in list_attentions()}
    assert set(ALL_MODELS) == expected
    assert len(ALL_MODELS) == 14 * len(list_attentions())  # ResNet-18..152, ResNeXt-50 (32x4d), 8 VGGs
    assert 'resnext50_32x4d_simam' in RESNET_NAMES
    mobilenets = {f'{arch}_{kind}' for arch in MOBILENETV2_ARCHS for kind in list_attentions()}
    assert set(list_attn_models()) == expected | mobilenets  # every family in FAMILIES
    assert set(timm.list_models('*_cbam')) == {n for n in expected | mobilenets if n.endswith('_cbam')}
    assert set(RESNET_NAMES) == {f'{arch}_{kind}' for arch in RESNET_ARCHS for kind in list_attentions()}
    assert set(timm.list_models(module='attn_vgg')) == {f'{arch}_{kind}' for arch in VGG_ARCHS for kind in list_attentions()}
    assert all(timm.is_model(n) for n in expected)
    assert 'resnet18_cbam.untrained' in timm.list_models('resnet18_*', include_tags=True)
    # untrained names list no weights; the authors' CBAM weights are a tag (models/published_weights)
    assert timm.list_pretrained('*_cbam') == ['resnet50_cbam.jongchan_in1k']


def test_no_timm_name_is_overwritten():
    for name in ALL_MODELS:
        assert model_entrypoint(name).__module__.startswith('convattn_plugin.models.attn_')
    for name in ('resnet50', 'vgg16_bn', 'seresnet50', 'ecaresnet50t', 'resnet50_gn'):
        assert model_entrypoint(name).__module__.startswith('timm.models.')

    # A name this package registered under another module (here: a copy of the ResNet family
    # declared in this test module) is skipped with a warning, never overwritten.
    other = dataclasses.replace(RESNET_FAMILY, module=__name__)
    with pytest.warns(UserWarning, match='resnet18_cbam is already a timm model'):
        assert register_family_kind(other, 'cbam', ['resnet18']) == []
    assert model_entrypoint('resnet18_cbam').__module__ == 'convattn_plugin.models.attn_resnet'
    # Registering a kind again is a silent no-op.
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert register_models('cbam') == []


def test_entrypoint_docstring_states_default_stages():
    assert 'every block of layer1-4' in model_entrypoint('resnet50_cbam').__doc__
    assert 'after layer1-3' in model_entrypoint('resnet50_bam').__doc__
    assert 'after layer3' in model_entrypoint('resnet50_nonlocal').__doc__
    assert 'every stage' in model_entrypoint('vgg16_cbam').__doc__
    assert 'stage 4 (the last) only' in model_entrypoint('vgg16_selfattn').__doc__


# ---------------------------------------------------------------------------------------------
# Cheap checks, every name

@pytest.mark.parametrize('name', _model_sample())
def test_model(name):
    arch, kind = _split(name)
    info = get_attn_info(kind)
    model = _create(name)
    assert model.pretrained_cfg['tag'] == 'untrained'
    assert model.pretrained_cfg['architecture'] == name

    # Attention of this kind where documented: ResNet where the kind's paper puts it, else every
    # stage, or the last for quadratic kinds.
    stages = _attn_stages(model)
    resnet = arch in RESNET_ARCHS  # ResNeXt-50 included
    num_stages = 4 if resnet else 5
    default = [num_stages - 1] if info.quadratic else list(range(num_stages))
    paper = PAPER_PLACEMENT.get(kind, (None, None))[1] if resnet else None
    assert sorted(stages) == (default if paper is None else list(paper))
    assert all(type(m) is info.cls for mods in stages.values() for m in mods)

    x = torch.randn(BATCH, 3, IMG, IMG)
    model.train()
    features = model.forward_features(x)  # forward() is forward_head(forward_features(x))
    assert features.shape[1] == model.num_features
    out = model.forward_head(features)
    assert out.shape == (BATCH, NUM_CLASSES)
    assert torch.isfinite(out).all()
    out.mean().backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not no_grad, f'parameters without a finite gradient: {no_grad[:5]}'

    model.eval()
    with torch.no_grad():
        # feature_info matches what the model computes, attention included.
        final, feats = model.forward_intermediates(x)
        assert [f.shape[1] for f in feats] == [i['num_chs'] for i in model.feature_info]
        assert [IMG // f.shape[-1] for f in feats] == [i['reduction'] for i in model.feature_info]
        assert final.shape == features.shape
        assert model.forward_head(final, pre_logits=True).shape == (BATCH, model.head_hidden_size)
        model.reset_classifier(0)
        assert isinstance(model.get_classifier(), torch.nn.Identity)
        assert model.forward_head(final).shape == (BATCH, model.head_hidden_size)


# Every backbone once; the kinds rotate so that quadratic (last-stage-only) ones are covered too.
# resnext50_32x4d gets sk: its unit in place of the grouped 3x3 convs.
FEATURES_ONLY_KIND = dict(zip([*RESNET_ARCHS, *VGG_ARCHS], [
    'cbam', 'nonlocal', 'se', 'dualattn', 'eca', 'sk', 'selfattn', 'localattn', 'gc', 'bam', 'coord', 'simam',
    'triplet', 'convgate']))


def test_features_only_covers_every_backbone():
    assert set(FEATURES_ONLY_KIND) == {*RESNET_ARCHS, *VGG_ARCHS}


@pytest.mark.parametrize('name', [f'{arch}_{kind}' for arch, kind in FEATURES_ONLY_KIND.items()])
def test_features_only(name):
    out_indices = (1, 2, 4)
    model = _create(name, features_only=True, out_indices=out_indices).eval()
    with torch.no_grad():
        feats = model(torch.randn(1, 3, IMG, IMG))
    assert model.feature_info.out_indices == out_indices
    assert [f.shape[1] for f in feats] == model.feature_info.channels()
    assert [IMG // f.shape[-1] for f in feats] == model.feature_info.reduction()
    reference = timm.create_model(name, device='meta').feature_info
    assert model.feature_info.channels() == [reference[i]['num_chs'] for i in out_indices]
    # The wrapper keeps the attention (feature taps are after it).
    assert any(type(m) is get_attn_info(_split(name)[1]).cls for m in model.modules())


# ---------------------------------------------------------------------------------------------
# ResNeXt-50 (32x4d): the ResNet family's grouped bottlenecks

@pytest.mark.parametrize('kind', list_attentions())
def test_resnext_every_kind_builds_where_its_paper_puts_it(kind):
    name = f'resnext50_32x4d_{kind}'
    info = get_attn_info(kind)
    model = _create(name).eval()
    paper = PAPER_PLACEMENT.get(kind, (None, None))[1]
    expected = ([3] if info.quadratic else [0, 1, 2, 3]) if paper is None else list(paper)
    assert sorted(_attn_stages(model)) == expected
    # The grouped 3x3 convs stay (32 groups, 4 channels each per 64 planes), except where SK replaces them.
    if kind != 'sk':
        first = [getattr(model, f'layer{s}')[0].conv2 for s in range(1, 5)]
        assert [(c.groups, c.in_channels) for c in first] == [(32, 128), (32, 256), (32, 512), (32, 1024)]
    with torch.no_grad():
        out = model(torch.randn(1, 3, 32, 32))
    assert out.shape == (1, NUM_CLASSES) and torch.isfinite(out).all()


def test_resnext_sk_fca_and_psa_options():
    sk = timm.create_model('resnext50_32x4d_sk', device='meta')
    unit = sk.layer2[0].conv2  # the unit in place of the strided grouped conv, its branches grouped as SKNet's
    assert [(p.conv.groups, p.conv.stride, p.conv.dilation) for p in unit.paths] == [
        (32, (2, 2), (1, 1)), (32, (2, 2), (2, 2))]
    assert isinstance(sk.layer2[0].bn2, torch.nn.Identity) and unit.paths[0].conv.in_channels == 256
    fca = timm.create_model('resnext50_32x4d_fca', device='meta')
    assert [fca.get_submodule(f'layer{i}.0.se').dct_size for i in range(1, 5)] == [56, 28, 14, 7]
    psa = timm.create_model('resnext50_32x4d_psa', device='meta')
    assert isinstance(psa.layer1[0].act1, ActAttn) and psa.layer1[0].act1.attn.channels == 128  # the bottleneck width
    bam = timm.create_model('resnext50_32x4d_bam', device='meta')
    assert [hasattr(getattr(bam, f'layer{i}'), 'attn') for i in range(1, 5)] == [True, True, True, False]


def test_num_classes_zero_gives_features():
    for name in ('resnet34_gc', 'vgg13_bn_eca'):
        model = _create(name, num_classes=0).eval()
        with torch.no_grad():
            assert model(torch.randn(1, 3, IMG, IMG)).shape == (1, model.head_hidden_size)


def test_resnet_attention_between_last_bn_and_residual():
    model = timm.create_model('resnet50_se').eval()
    block = model.layer2[1]
    torch.nn.init.ones_(block.bn3.weight)  # undo zero_init_last so the branch is not all zeros
    seen = {}

    def record(key):
        def hook(module, args, output):
            seen[key] = (args[0].clone(), output.clone())
        return hook

    block.bn3.register_forward_hook(record('bn3'))
    # A pre-hook sees the input before the (in-place, in inference) gate overwrites it,
    # as with any inplace module.
    block.se.register_forward_pre_hook(lambda m, args: seen.__setitem__('se_in', args[0].clone()))
    block.se.register_forward_hook(lambda m, args, out: seen.__setitem__('se_out', out.clone()))
    block.register_forward_hook(record('block'))
    with torch.no_grad():
        model(torch.randn(1, 3, IMG, IMG))
    bn3_out, se_in, se_out, (block_in, block_out) = seen['bn3'][1], seen['se_in'], seen['se_out'], seen['block']
    torch.testing.assert_close(se_in, bn3_out)                         # after the last BN ...
    torch.testing.assert_close(block_out, torch.relu(se_out + block_in))  # ... before the residual addition


def test_resnet_grad_checkpointing():
    model = _create('resnet18_cbam').eval()
    x = torch.randn(BATCH, 3, IMG, IMG, requires_grad=True)
    expected = model(x)
    model.set_grad_checkpointing(True)
    assert model.grad_checkpointing
    out = model(x)
    torch.testing.assert_close(out, expected)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


# ---------------------------------------------------------------------------------------------
# Plain backbone names stay plain

@pytest.mark.parametrize('plain,name', [('resnet50', 'resnet50_cbam'), ('resnet18', 'resnet18_dualattn'),
                                        ('resnext50_32x4d', 'resnext50_32x4d_bam'),
                                        ('vgg16', 'vgg16_localattn'), ('vgg16_bn', 'vgg16_bn_selfattn')])
def test_backbone_keys_are_those_of_the_plain_model(plain, name):
    plain_sd = timm.create_model(plain, device='meta').state_dict()
    attn_sd = timm.create_model(name, device='meta').state_dict()
    markers = ('.se.', '.attn.') if plain in RESNET_ARCHS else ('.attn.',)  # ResNet: block or stage end
    backbone = {k: v.shape for k, v in attn_sd.items() if not any(m in k for m in markers)}
    assert backbone == {k: v.shape for k, v in plain_sd.items()}
    assert len(attn_sd) > len(plain_sd)


# ---------------------------------------------------------------------------------------------
# Overrides and bad input

def test_attn_stages_and_kwargs_override():
    model = timm.create_model('resnet18_cbam', attn_stages=(1, -1), attn_kwargs=dict(rd_ratio=1 / 4), device='meta')
    stages = _attn_stages(model)
    assert sorted(stages) == [1, 3]
    assert [m.fc1.out_channels for m in stages[1]] == [32, 32]  # 128 channels / 4

    model = timm.create_model('vgg11_nonlocal', attn_stages=(3, 4), attn_kwargs=dict(sub_sample=True), device='meta')
    stages = _attn_stages(model)
    assert sorted(stages) == [3, 4]
    assert all(isinstance(m.pool, torch.nn.MaxPool2d) for mods in stages.values() for m in mods)

    assert _attn_stages(timm.create_model('resnet18_selfattn', attn_stages=(), device='meta')) == {}


@pytest.mark.parametrize('name,kwargs,match', [
    ('resnet18_cbam', dict(attn_kwargs=dict(rd_channels=128)),
     r'resnet18_cbam stage 0 \(layer1\.0, 64 channels\): rd_channels=128 does not fit a stage of 64 channels'),
    ('vgg16_se', dict(attn_kwargs=dict(rd_channels=100)),
     r'vgg16_se stage 0 \(features\.3, 64 channels\): rd_channels=100 does not fit'),
    ('resnet50_eca', dict(attn_kwargs=dict(rd_ratio=0.5)),
     r"resnet50_eca stage 0 \(layer1\.0, 256 channels\): .*rd_ratio"),
    ('resnet18_se', dict(attn_kwargs='rd_ratio=0.5'),
     r"resnet18_se: attn_kwargs must be a dict of option names to values.*got str 'rd_ratio=0\.5'"),
    ('vgg11_se', dict(attn_kwargs=[('rd_ratio', 0.5)]), r'vgg11_se: attn_kwargs must be a dict'),
    ('vgg11_cbam', dict(attn_kwargs=dict(kernel_size=4)),
     r'vgg11_cbam stage 0 \(features\.1, 64 channels\): cannot build .*kernel_size must be a positive odd int'),
    ('resnet18_se', dict(attn_stages=(4,)), r'attn_stages: 4 is not a stage of resnet18_se; accepted: 0\.\.3'),
    ('vgg11_bn_se', dict(attn_stages=(0, 5)), r'attn_stages: 5 is not a stage of vgg11_bn_se; accepted: 0\.\.4'),
    ('vgg11_se', dict(attn_stages=('last',)), r"attn_stages: 'last' is not a stage"),
    ('resnet18_cbam', dict(num_classes=10**12), r'resnet18_cbam: num_classes must be an int from 0 .* got 10+$'),
    ('vgg11_se', dict(num_classes=True), r'vgg11_se: num_classes must be an int .* got True'),
])
def test_bad_attention_options_fail_at_construction(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        timm.create_model(name, device='meta', **kwargs)


# ---------------------------------------------------------------------------------------------
# Gating in place, VGG head

def test_forward_hook_keeps_what_the_bn_computed():
    """Gates are out of place by default: a hook on a block's last BN keeps that BN's output."""
    torch.manual_seed(0)
    model = timm.create_model('resnet18_se', num_classes=5).eval()
    _randomise_zero_params(model)
    bn2 = model.layer1[0].bn2
    seen = []
    handle = bn2.register_forward_hook(lambda mod, inp, out: seen.append((inp[0], out)))
    with torch.no_grad():
        model(torch.randn(2, 3, 64, 64))
        bn_input, hooked = seen[0]
        recomputed = torch.nn.functional.batch_norm(
            bn_input, bn2.running_mean, bn2.running_var, bn2.weight, bn2.bias, False, 0., bn2.eps)
    handle.remove()
    torch.testing.assert_close(hooked, recomputed, rtol=0, atol=0)
    assert all(not getattr(b.se, 'inplace', False) for b in model.modules() if getattr(b, 'se', None) is not None)


@pytest.mark.parametrize('name', ['resnet18_se', 'resnet18_cbam', 'resnet18_eca'])
def test_inplace_gating_on_request_keeps_outputs_and_gradients(name):
    """attn_kwargs=dict(inplace=True) opts in to in-place gates: same results as out of place."""
    torch.manual_seed(0)
    fast = timm.create_model(name, num_classes=5, attn_kwargs=dict(inplace=True)).eval()
    reference = timm.create_model(name, num_classes=5).eval()
    reference.load_state_dict(fast.state_dict())
    gates = [b.se for b in fast.modules() if getattr(b, 'se', None) is not None]
    assert gates and all(g.inplace for g in gates)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(fast(x), reference(x))
    fast.train()
    fast(x).sum().backward()  # autograd takes the out-of-place path
    assert all(p.grad is not None for p in fast.parameters())


def test_vgg_gap_mlp_head_with_norm():
    """head_mlp_norm mirrors StackedLinearClsHead(norm_cfg=BN1d): Linear, BN, ReLU, dropout."""
    model = timm.create_model('vgg11_se', num_classes=3, head_mlp=(16,), head_mlp_norm=True)
    keys = model.state_dict().keys()
    assert 'pre_logits.layers.0.norm.running_var' in keys and 'head.fc.weight' in keys
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 3)
    with pytest.raises(ValueError, match=r'head_mlp_norm=True needs hidden layers'):
        timm.create_model('vgg11_se', head_mlp=(), head_mlp_norm=True)


def test_the_model_listing_command(capsys):
    from convattn_plugin.models.__main__ import main

    assert main(['resnet18_*']) == 0
    printed = capsys.readouterr().out.split()
    assert printed == sorted(n for n in ALL_MODELS if n.startswith('resnet18_')) and 'resnet18_cbam' in printed
    assert main(['nothing_like_this*']) == 1
    assert "no model matches 'nothing_like_this*'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(['--markdown', '*_cbam'])
