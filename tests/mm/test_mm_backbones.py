"""ConvAttnResNet / ConvAttnVGG: tuple outputs, freezing, norm_eval, init, fair baseline."""
from __future__ import annotations

import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from convattn_plugin.mm import ConvAttnResNet, ConvAttnVGG

X = torch.randn(2, 3, 64, 64)


def test_resnet_returns_the_selected_stages():
    b = ConvAttnResNet(depth=18, attention='cbam', out_indices=(0, 1, 2, 3))
    outs = b(X)
    assert isinstance(outs, tuple) and len(outs) == 4
    assert [o.shape[1] for o in outs] == list(b.out_channels) == [64, 128, 256, 512]
    assert [64 // o.shape[-1] for o in outs] == list(b.out_strides) == [4, 8, 16, 32]
    one = ConvAttnResNet(depth=18, attention='cbam', out_indices=(1,))
    assert len(one(X)) == 1 and one(X)[0].shape == (2, 128, 8, 8)
    assert len(one.timm_model.layer3) == 0  # stages after the last output are pruned


def test_resnet50_channels_and_cifar_stem():
    b = ConvAttnResNet(depth=50, attention='se', out_indices=(3,))
    assert b(X)[0].shape == (2, 2048, 2, 2)
    c = ConvAttnResNet(depth=18, attention='cbam', out_indices=(0, 3), stem='cifar')
    outs = c(torch.randn(2, 3, 32, 32))
    assert [o.shape[-1] for o in outs] == [32, 4] and c.out_strides == (1, 8)


def test_vgg_returns_stage_outputs_after_each_pool():
    b = ConvAttnVGG(depth=11, with_bn=True, attention='localattn', out_indices=(0, 2, 4))
    outs = b(X)
    assert [tuple(o.shape[1:]) for o in outs] == [(64, 32, 32), (256, 8, 8), (512, 2, 2)]
    assert b.out_channels == (64, 256, 512) and b.out_strides == (2, 8, 32)
    assert not any(n.startswith(('timm_model.pre_logits', 'timm_model.head')) for n, _ in b.named_parameters())
    assert any('.attn.' in n for n, _ in b.named_parameters())


def test_frozen_stages_resnet():
    b = ConvAttnResNet(depth=18, attention='cbam', frozen_stages=1).train()
    m = b.timm_model
    for mod in (m.conv1, m.bn1, m.layer1):
        assert not any(p.requires_grad for p in mod.parameters())
        assert not any(x.training for x in mod.modules())
    assert all(p.requires_grad for p in m.layer2.parameters()) and m.layer2.training
    b(X)[0].sum().backward()
    assert m.layer1[0].conv1.weight.grad is None and m.layer2[0].conv1.weight.grad is not None


def test_frozen_stages_vgg():
    b = ConvAttnVGG(depth=11, with_bn=True, attention='cbam', frozen_stages=2).train()
    pools = [i for i, m in enumerate(b.timm_model.features) if isinstance(m, torch.nn.MaxPool2d)]
    frozen, free = b.timm_model.features[:pools[1] + 1], b.timm_model.features[pools[1] + 1:]
    assert not any(p.requires_grad for p in frozen.parameters())
    assert all(p.requires_grad for p in free.parameters())


def test_norm_eval_keeps_batchnorm_in_eval():
    b = ConvAttnResNet(depth=18, attention='cbam', norm_eval=True).train()
    bns = [m for m in b.modules() if isinstance(m, _BatchNorm)]
    assert bns and not any(m.training for m in bns)
    assert b.timm_model.layer1[0].conv1.training  # the rest trains


def test_attn_stages_and_kwargs_reach_the_timm_model():
    b = ConvAttnResNet(depth=18, attention='cbam', attn_stages=(3,), attn_kwargs=dict(rd_ratio=1 / 4))
    with_attn = [n for n, _ in b.named_modules() if n.endswith('.se')]
    assert with_attn and all(n.startswith('timm_model.layer4.') for n in with_attn)
    assert b.timm_model.layer4[0].se.fc1.out_channels == 128


def test_default_placement_is_the_papers():
    # The backbone passes no position: the timm model's default, each kind's paper placement.
    bam = ConvAttnResNet(depth=18, attention='bam', out_indices=(0, 1, 2, 3))
    assert [n for n, _ in bam.named_modules() if n.endswith(('.se', '.attn'))] == [
        f'timm_model.layer{i}.attn' for i in (1, 2, 3)]
    assert all(b.se is None for i in (1, 2, 3, 4) for b in bam.timm_model.get_submodule(f'layer{i}')[:2])
    gc = ConvAttnResNet(depth=18, attention='gc')
    assert all(b.se is None for b in gc.timm_model.layer1) and gc.timm_model.layer2[0].se is not None
    block = ConvAttnResNet(depth=18, attention='bam', timm_kwargs=dict(attn_position='block'))
    assert block.timm_model.layer1[0].se is not None and not hasattr(block.timm_model.layer1, 'attn')


def test_plain_baseline_is_the_same_network_without_attention():
    plain = ConvAttnResNet(depth=18, attention=None)
    cbam = ConvAttnResNet(depth=18, attention='cbam')
    assert type(plain) is type(cbam)
    plain_keys = set(plain.state_dict())
    extra = set(cbam.state_dict()) - plain_keys
    assert plain_keys < set(cbam.state_dict()) and extra and all('.se.' in k for k in extra)


@pytest.mark.parametrize('kind', ['gc', 'nonlocal'])
def test_mmengine_init_keeps_timm_initialisation(kind):
    # gc / nonlocal zero-initialise their output so a new block starts as the identity;
    # mmengine's init_weights must not re-draw them (nor anything else).
    from mmpretrain.models import ImageClassifier

    model = ImageClassifier(
        backbone=dict(type='ConvAttnResNet', depth=18, attention=kind, attn_stages=(3,)),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=10, in_channels=512))
    before = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    model.init_weights()
    after = model.backbone.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
