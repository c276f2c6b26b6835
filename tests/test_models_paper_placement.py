"""``resnet*_{kind}`` put each kind where its paper puts it by default; ``attn_position`` overrides.

The placement options themselves (``'stage_end'``, ``'before_bn2'``, per-stage options) are
tested in ``test_published_weights_placement.py``.
"""
from __future__ import annotations

import pytest
import timm
import torch

import convattn_plugin  # noqa: F401  (registers the models)
from convattn_plugin.analysis.model_table import _stages
from convattn_plugin.layers import get_attn_info, list_attentions
from convattn_plugin.models.attn_resnet import describe_placement

pytestmark = pytest.mark.usefixtures('one_thread')
LAYERS = ('layer1', 'layer2', 'layer3', 'layer4')


def _attention_names(model) -> list[str]:
    """Names of the attention modules of a ResNet: ``layer2.attn``, ``layer1.0.se``, ``layer1.0.bn2.attn``."""
    return [n for n, m in model.named_modules()
            if m is not None and n.rsplit('.', 1)[-1] in ('se', 'attn') and n.startswith('layer')]


def test_bam_default_is_once_after_layer1_to_layer3():
    model = timm.create_model('resnet18_bam', device='meta')
    assert _attention_names(model) == ['layer1.attn', 'layer2.attn', 'layer3.attn']
    assert all(b.se is None for n in LAYERS for b in model.get_submodule(n) if hasattr(b, 'se'))
    assert [model.get_submodule(f'{n}.attn').channels for n in LAYERS[:3]] == [64, 128, 256]


def test_gc_default_is_every_block_of_layer2_to_layer4():
    model = timm.create_model('resnet18_gc', device='meta')
    assert all(b.se is None for b in model.layer1)
    assert _attention_names(model) == [f'{n}.{j}.se' for n in LAYERS[1:] for j in range(2)]


def test_simam_default_is_before_bn2_with_the_imagenet_lambda():
    model = timm.create_model('resnet18_simam', device='meta')
    assert _attention_names(model) == [f'{n}.{j}.bn2.attn' for n in LAYERS for j in range(2)]
    assert {b.bn2.attn.e_lambda for n in LAYERS for b in model.get_submodule(n)} == {0.1}
    lam = timm.create_model('resnet18_simam', attn_kwargs=dict(e_lambda=1e-4), device='meta').layer1[0].bn2.attn
    assert lam.e_lambda == 1e-4  # attn_kwargs go over the paper's option
    block = timm.create_model('resnet18_simam', attn_position='block', device='meta').layer1[0].se
    assert block.e_lambda == 1e-4  # the paper's lambda comes with the paper's placement only


@pytest.mark.parametrize('kind, layer', [('nonlocal', 'layer3'), ('dualattn', 'layer4')])
def test_quadratic_papers_put_one_module_at_a_stage_end(kind, layer):
    model = timm.create_model(f'resnet18_{kind}', device='meta')
    assert _attention_names(model) == [f'{layer}.attn']
    assert type(model.get_submodule(f'{layer}.attn')) is get_attn_info(kind).cls


def test_block_position_and_attn_stages_still_override():
    model = timm.create_model('resnet18_bam', attn_position='block', device='meta')
    assert _attention_names(model) == [f'{n}.{j}.se' for n in LAYERS for j in range(2)]
    model = timm.create_model('resnet18_gc', attn_stages=(0,), device='meta')
    assert _attention_names(model) == ['layer1.0.se', 'layer1.1.se']
    model = timm.create_model('resnet18_nonlocal', attn_position='block', device='meta')
    assert _attention_names(model) == ['layer4.0.se', 'layer4.1.se']  # quadratic: layer4 only


@pytest.mark.parametrize('kind', list_attentions())
def test_every_description_of_the_default_agrees(kind):
    where = describe_placement(kind)
    assert f'ResNet: {where};' in get_attn_info(kind).default_placement
    assert _stages('resnet', kind) == where


def test_sk_replaces_each_bottleneck_conv2_with_its_stride():
    model = timm.create_model('resnet50_sk', attn_position='conv2', device='meta')
    units = [model.get_submodule(f'{n}.0.conv2') for n in LAYERS]
    assert all(type(u) is get_attn_info('sk').cls for u in units)
    assert [u.stride for u in units] == [1, 2, 2, 2] and [u.channels for u in units] == [64, 128, 256, 512]
    assert isinstance(model.layer2[0].bn2, torch.nn.Identity) and isinstance(model.layer2[0].act2, torch.nn.Identity)
    out = timm.create_model('resnet50_sk', attn_position='conv2', features_only=True)(torch.randn(1, 3, 64, 64))
    assert [f.shape[-1] for f in out] == [32, 16, 8, 4, 2]


def test_sk_conv2_is_refused_on_basic_blocks():
    with pytest.raises(ValueError, match="attn_position='conv2' replaces a bottleneck's 3x3 conv"):
        timm.create_model('resnet18_sk', attn_position='conv2', device='meta')
    with pytest.raises(ValueError, match='stride is not an attention option'):
        timm.create_model('resnet50_sk', attn_kwargs=dict(stride=2), device='meta')


@pytest.mark.parametrize('name, width', [('resnet18_psa', 64), ('resnet50_psa', 64)])
def test_psa_goes_after_act1(name, width):
    model = timm.create_model(name, attn_position='after_act1', device='meta')
    assert _attention_names(model)[0] == 'layer1.0.act1.attn'
    assert model.layer1[0].act1.attn.channels == width and all(b.se is None for b in model.layer1)


def test_fca_gets_the_authors_dct_size_per_stage_and_attn_kwargs_override():
    model = timm.create_model('resnet50_fca', device='meta')
    assert [model.get_submodule(f'{n}.0.se').dct_size for n in LAYERS] == [56, 28, 14, 7]
    model = timm.create_model('resnet50_fca', attn_kwargs=dict(dct_size=7), device='meta')
    assert [model.get_submodule(f'{n}.0.se').dct_size for n in LAYERS] == [7, 7, 7, 7]
    block = timm.create_model('resnet50_fca', attn_position='block', device='meta').layer1[0].se
    assert block.dct_size == 7  # the per-stage sizes come with the paper's placement only


def test_sk_default_is_conv2_in_bottlenecks_and_after_act1_in_basic_blocks():
    sk = get_attn_info('sk').cls
    model = timm.create_model('resnet50_sk', device='meta')
    assert all(type(b.conv2) is sk and b.se is None for n in LAYERS for b in model.get_submodule(n))
    assert [model.get_submodule(f'{n}.0.conv2').stride for n in LAYERS] == [1, 2, 2, 2]
    model = timm.create_model('resnet18_sk', device='meta')  # the SK authors have no BasicBlock unit
    names = [n for n, m in model.named_modules() if type(m) is sk]
    assert names == [f'{n}.{j}.act1.attn' for n in LAYERS for j in range(2)]
    assert all(type(b.conv2) is torch.nn.Conv2d and b.se is None for n in LAYERS for b in model.get_submodule(n))


def test_sk_in_a_basic_block_trains_from_timms_zero_initialised_bn2():
    # In the se slot the unit would follow bn2, whose weight timm zero-initialises: its ReLU-ended
    # branches then pass no gradient back, and bn2 stays 0 (the block never trains).
    torch.manual_seed(0)
    model = timm.create_model('resnet18_sk', num_classes=3)
    assert not model.layer2[1].bn2.weight.any()
    model(torch.randn(2, 3, 32, 32)).sum().backward()
    assert model.layer2[1].bn2.weight.grad.abs().sum() > 0


@pytest.mark.parametrize('name, blocks', [('resnet18_psa', 2), ('resnet50_psa', 3)])
def test_psa_default_is_after_act1_of_every_block(name, blocks):
    model = timm.create_model(name, device='meta')
    assert _attention_names(model)[:blocks] == [f'layer1.{j}.act1.attn' for j in range(blocks)]
    assert all(b.se is None and type(b.act1.attn) is get_attn_info('psa').cls
               for n in LAYERS for b in model.get_submodule(n))


def test_sk_after_a_zero_initialised_bn_is_refused_with_the_positions_that_train():
    with pytest.raises(ValueError, match="sk at attn_position='block' follows the block's zero-initialised last BN"):
        timm.create_model('resnet50_sk', attn_position='block', device='meta')
    with pytest.raises(ValueError, match="a BasicBlock has none to replace.*'after_act1'"):
        timm.create_model('resnet18_sk', attn_position='conv2', device='meta')
    model = timm.create_model('resnet50_sk', attn_position='block', zero_init_last=False, device='meta')
    assert type(model.layer1[0].se).__name__ == type(timm.create_model('resnet50_sk', device='meta').layer1[0].conv2).__name__
