"""The ResNet family's placement options that the authors' architectures need.

``attn_position='stage_end'`` (BAM between stages), ``'before_bn2'`` (SimAM's ImageNet
ResNets) and ``attn_stage_kwargs`` (ECA's per-stage kernel sizes).
"""
from __future__ import annotations

import pytest
import timm
import torch

import convattn_plugin  # noqa: F401


def test_stage_end_puts_one_module_on_each_chosen_stage_output():
    model = timm.create_model('resnet18_bam', attn_stages=(0, 1, 2), attn_position='stage_end').eval()
    plain = set(timm.create_model('resnet18').state_dict())
    extra = {k.split('.attn.')[0] for k in set(model.state_dict()) - plain}
    assert extra == {'layer1', 'layer2', 'layer3'} and plain <= set(model.state_dict())
    assert model.layer2.attn.channels == 128
    feats = timm.create_model('resnet18_bam', attn_stages=(0, 1, 2), attn_position='stage_end', features_only=True)
    assert [f.shape[1] for f in feats(torch.randn(1, 3, 64, 64))] == [64, 64, 128, 256, 512]


def test_before_bn2_keeps_plain_keys_and_gates_the_conv2_output():
    model = timm.create_model('resnet50_simam', attn_position='before_bn2').eval()
    assert set(model.state_dict()) == set(timm.create_model('resnet50').state_dict())
    block = model.layer1[0]
    x = torch.randn(2, 64, 8, 8)
    with torch.no_grad():
        expected = torch.nn.functional.batch_norm(
            block.bn2.attn(x), block.bn2.running_mean, block.bn2.running_var, block.bn2.weight, block.bn2.bias,
            eps=block.bn2.eps)
        torch.testing.assert_close(block.bn2(x), expected)
    assert block.bn2.attn.channels == 64  # the 3x3 conv's width, not the block's output


def test_stage_kwargs_as_dict_or_list():
    by_dict = timm.create_model('resnet18_eca', attn_stage_kwargs={1: dict(kernel_size=9)})
    by_list = timm.create_model('resnet18_eca', attn_stage_kwargs=[{}, dict(kernel_size=9), {}, {}])
    for model in (by_dict, by_list):
        assert model.layer2[0].se.conv.kernel_size == (9,) and model.layer2[1].se.conv.kernel_size == (9,)
        assert model.layer1[0].se.conv.kernel_size == (3,)  # the adaptive rule elsewhere


@pytest.mark.parametrize('kwargs, match', [
    (dict(attn_position='between'), "attn_position='between' is not one of"),
    (dict(attn_stage_kwargs={4: {}}), 'attn_stage_kwargs must map stage indices 0..3'),
    (dict(attn_stage_kwargs={0: dict(kernel_size=4)}), 'stage 0 .*kernel_size'),
])
def test_bad_placement_options_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        timm.create_model('resnet18_eca', **kwargs)


@pytest.mark.parametrize('kind, stage_ends, block_stages', [
    ('bam', ['layer1', 'layer2', 'layer3'], []),
    ('gc', [], [1, 2, 3]),
    ('nonlocal', ['layer3'], []),
    ('dualattn', ['layer4'], []),
    ('cbam', [], [0, 1, 2, 3]),
])
def test_paper_position_follows_each_paper(kind, stage_ends, block_stages):
    model = timm.create_model(f'resnet18_{kind}', attn_position='paper')
    assert [n for n in ('layer1', 'layer2', 'layer3', 'layer4') if hasattr(model.get_submodule(n), 'attn')] \
        == stage_ends
    assert [s for s in range(4) if getattr(model.get_submodule(f'layer{s + 1}')[0], 'se', None)] == block_stages


def test_paper_position_puts_simam_before_bn2():
    model = timm.create_model('resnet18_simam', attn_position='paper')
    assert all(hasattr(b.bn2, 'attn') and b.se is None for s in range(1, 5) for b in model.get_submodule(f'layer{s}'))
