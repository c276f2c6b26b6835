"""Every registered model passes what timm checks on its own models.

The checks follow timm's own model tests: default cfg, ``features_only`` with each
``feature_cls`` (hook, fx, getter), ``forward_intermediates`` and
``prune_intermediate_layers``, TorchScript, FX forward and backward, FX then TorchScript,
and ``torch.export`` with a dynamic height and width. (Forward and backward of every name
at 64 px are in ``tests/test_models.py::test_model``.)

The default run takes a deterministic sample: ResNet-18 and VGG-11-BN with every kind for
the cheap checks, a handful of names for scripting and export; ``-m exhaustive`` runs every
registered name through every check.
"""
from __future__ import annotations

import pytest
import timm
import torch
from timm.models import create_feature_extractor, get_graph_node_names

import convattn_plugin  # noqa: F401  (registers the models)
from convattn_plugin.layers import list_attentions
from convattn_plugin.models import list_attn_models

ALL_MODELS = list_attn_models()
PER_KIND = [f'{arch}_{kind}' for kind in list_attentions() for arch in ('resnet18', 'vgg11_bn')]
# Scripting and export take seconds per model: both families, a quadratic kind, the kinds with
# their own fast paths (CBAM's channel max, ECA's 1-D conv) and a deep ResNet.
HEAVY_SAMPLE = ['resnet18_cbam', 'vgg11_bn_dualattn', 'resnet18_eca', 'vgg11_se']
FEATURE_CLS = ('hook', 'fx', 'getter')
IMG, NUM_CLASSES = 64, 3

pytestmark = pytest.mark.usefixtures('one_thread')


def _sample(default: list[str]) -> list:
    """``default`` in the default run; every other registered name under ``-m exhaustive``."""
    return [*default, *(pytest.param(n, marks=pytest.mark.exhaustive) for n in ALL_MODELS if n not in default)]


def _create(name: str, **kwargs) -> torch.nn.Module:
    if name.startswith('vgg'):
        # timm's 4096-wide 7x7-conv VGG head (100 M parameters) made narrow; the backbone,
        # where the attention is, stays as it is.
        kwargs.setdefault('mlp_ratio', 1 / 64)
    return timm.create_model(name, **kwargs)


def _awake(model: torch.nn.Module) -> torch.nn.Module:
    """Zero-initialised scales make new attention the identity; give them values so that
    a comparison of two runs also compares what the attention computes."""
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            if not p.any():
                p.normal_(0, 0.5)
    return model


def _close(actual: torch.Tensor, expected: torch.Tensor) -> None:
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-4 * max(1.0, expected.abs().max().item()))


# ---------------------------------------------------------------------------------------------
# Default cfg: on the meta device (shapes only), at the cfg's 224 px

@pytest.mark.parametrize('name', _sample(PER_KIND + ['resnet152_cbam', 'vgg19_cbam']))
def test_default_cfg(name):
    model = _create(name, device='meta').eval()
    cfg = model.pretrained_cfg
    assert cfg['architecture'] == name and cfg['tag'] == 'untrained' and not cfg.get('url')
    state_dict = model.state_dict()
    assert f"{cfg['first_conv']}.weight" in state_dict and f"{cfg['classifier']}.weight" in state_dict
    x = torch.empty((1, *cfg['input_size']), device='meta')
    assert model.forward_features(x).shape == (1, model.num_features, *cfg['pool_size'])
    assert model(x).shape == (1, cfg['num_classes'])
    model.reset_classifier(0)
    assert model(x).shape == (1, model.head_hidden_size)
    model.reset_classifier(0, '')  # no pooling: the un-pooled map of the pre-logits
    assert model(x).dim() == 4


# ---------------------------------------------------------------------------------------------
# Feature extraction

# Default run: each sampled name with one feature class, in turn; exhaustive: every pair.
@pytest.mark.parametrize('name,feature_cls', [
    pytest.param(n, c, marks=() if n in PER_KIND and PER_KIND.index(n) % len(FEATURE_CLS) == i
                 else pytest.mark.exhaustive)
    for n in ALL_MODELS for i, c in enumerate(FEATURE_CLS)])
def test_features_only(name, feature_cls):
    reference = _create(name, device='meta').feature_info
    model = _create(name, features_only=True, feature_cls=feature_cls).eval()
    assert len(model.feature_info.channels()) >= 4
    with torch.no_grad():
        feats = model(torch.randn(1, 3, IMG, IMG))
    assert [f.shape[1] for f in feats] == model.feature_info.channels() == [i['num_chs'] for i in reference]
    assert [IMG // f.shape[-1] for f in feats] == model.feature_info.reduction()
    assert all(torch.isfinite(f).all() for f in feats)


@pytest.mark.parametrize('name', _sample(PER_KIND))
def test_forward_intermediates_and_prune(name):
    model = _awake(_create(name, num_classes=NUM_CLASSES)).eval()
    x = torch.randn(1, 3, IMG, IMG)
    n = len(model.feature_info)
    with torch.no_grad():
        every = model.forward_intermediates(x, intermediates_only=True)
        assert [f.shape[1] for f in every] == [i['num_chs'] for i in model.feature_info]
        keep = [1, 2]
        some = model.forward_intermediates(x, indices=keep, intermediates_only=True)
        for f, i in zip(some, keep):
            _close(f, every[i])
        kept = model.prune_intermediate_layers(keep, prune_head=True)
        assert kept == keep
        pruned = model.forward_intermediates(x, indices=keep, intermediates_only=True)
        for f, i in zip(pruned, keep):
            _close(f, every[i])
    assert n > max(keep)


# ---------------------------------------------------------------------------------------------
# FX, TorchScript, export

def _fx_model(model: torch.nn.Module) -> torch.nn.Module:
    """The whole model as an FX graph module (timm's tracer: its leaf modules and functions)."""
    train_nodes, eval_nodes = get_graph_node_names(model)
    assert train_nodes[-1] == eval_nodes[-1]
    return create_feature_extractor(model, {eval_nodes[-1]: 'out'})


def _only(out) -> torch.Tensor:
    return next(iter(out.values())) if isinstance(out, dict) else out


@pytest.mark.parametrize('name', _sample(PER_KIND))
def test_fx_forward_and_backward(name):
    model = _awake(_create(name, num_classes=NUM_CLASSES))
    x = torch.randn(2, 3, IMG, IMG)
    graph = _fx_model(model)
    model.eval()
    graph.eval()
    with torch.no_grad():
        _close(_only(graph(x)), model(x))
    graph.train()
    _only(graph(x)).mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f'parameters without a gradient through the FX graph: {missing[:5]}'


@pytest.mark.parametrize('name', _sample(HEAVY_SAMPLE))
def test_torchscript(name):
    model = _awake(_create(name, num_classes=NUM_CLASSES)).eval()
    scripted = torch.jit.script(model)
    x = torch.randn(1, 3, IMG, IMG)
    with torch.no_grad():
        _close(scripted(x), model(x))


@pytest.mark.parametrize('name', _sample(HEAVY_SAMPLE[:2]))
def test_fx_then_torchscript(name):
    model = _awake(_create(name, num_classes=NUM_CLASSES)).eval()
    graph = _fx_model(model).eval()
    scripted = torch.jit.script(graph)
    x = torch.randn(1, 3, IMG, IMG)
    with torch.no_grad():
        _close(_only(scripted(x)), model(x))


def _export_range(name: str) -> int:
    # timm's VGG head pools maps smaller than 7x7 up to 7x7 first (a branch on the size), so
    # its export holds below 224 px only; the global-pool head (head_mlp) has no such limit.
    return 223 if name.startswith('vgg') else 512


@pytest.mark.parametrize('name', _sample(HEAVY_SAMPLE))
def test_export_with_dynamic_height_and_width(name):
    model = _awake(_create(name, num_classes=NUM_CLASSES)).eval()
    top = _export_range(name)
    # From 64 px: at 32 px the last map is 1x1, a size torch.export specialises on.
    h, w = torch.export.Dim('height', min=64, max=top), torch.export.Dim('width', min=64, max=top)
    exported = torch.export.export(model, (torch.randn(2, 3, 96, 96),), dynamic_shapes=({2: h, 3: w},))
    run = exported.module()
    with torch.no_grad():
        for size in ((64, 64), (128, 96), (min(top, 224), 160)):
            x = torch.randn(2, 3, *size)
            _close(run(x), model(x))


def test_vgg_global_pool_head_exports_at_any_size():
    model = _awake(_create('vgg11_bn_cbam', num_classes=NUM_CLASSES, head_mlp=(32,))).eval()
    h, w = torch.export.Dim('height', min=64, max=1024), torch.export.Dim('width', min=64, max=1024)
    run = torch.export.export(model, (torch.randn(1, 3, 96, 96),), dynamic_shapes=({2: h, 3: w},)).module()
    with torch.no_grad():
        for size in (64, 288):
            x = torch.randn(1, 3, size, size)
            _close(run(x), model(x))
