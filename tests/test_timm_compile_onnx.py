"""``torch.compile`` and ONNX export of the registered models, compared with eager outputs.

One representative per family by default, every name with ``-m exhaustive``.
"""
from __future__ import annotations

import pytest
import timm
import torch

import convattn_plugin  # noqa: F401  (registers the models)
from convattn_plugin.models import list_attn_models

ALL_MODELS = list_attn_models()
REPRESENTATIVES = ['resnet18_cbam', 'vgg11_bn_dualattn']  # one per family; dualattn covers SDPA export
IMG, BATCH, NUM_CLASSES = 64, 2, 3

pytestmark = pytest.mark.usefixtures('one_thread')


def _create(name: str) -> torch.nn.Module:
    # A narrow VGG head (timm's is a 4096-wide 7x7 conv); the backbone stays as it is.
    return timm.create_model(name, num_classes=NUM_CLASSES, **({'mlp_ratio': 1 / 64} if name.startswith('vgg') else {}))


def _randomise_zero_params(model: torch.nn.Module) -> None:
    """Zero-initialised scales (gamma, alpha, ...) make new attention the identity; wake them up."""
    with torch.no_grad():
        for p in model.parameters():
            if not p.any():
                p.normal_(0, 0.5)


def _compile_matches_eager(name):
    # Dynamo caches per code object (Bottleneck.forward, ...) across model instances; a fresh
    # cache keeps many compiled models in one session under its recompile limit.
    torch.compiler.reset()
    model = _create(name).eval()
    _randomise_zero_params(model)
    x = torch.randn(BATCH, 3, IMG, IMG)
    with torch.no_grad():
        expected = model(x)
        # aot_eager traces the full graph (fullgraph=True: no graph break allowed) without
        # the minute of C++ codegen inductor needs per model on these CPUs.
        out = torch.compile(model, fullgraph=True, backend='aot_eager')(x)
    torch.testing.assert_close(out, expected)


def _onnx_matches_eager(name, path):
    ort = pytest.importorskip('onnxruntime')
    model = _create(name).eval()
    _randomise_zero_params(model)
    x = torch.randn(BATCH, 3, IMG, IMG)
    with torch.no_grad():
        expected = model(x).numpy()
    torch.onnx.export(model, (x,), str(path), dynamo=True)
    session = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    (out,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    assert abs(out - expected).max() < 1e-4 * max(1.0, abs(expected).max())


@pytest.mark.parametrize('name', REPRESENTATIVES)
def test_compile(name):
    _compile_matches_eager(name)


@pytest.mark.parametrize('name', REPRESENTATIVES)
def test_onnx_export(name, tmp_path):
    _onnx_matches_eager(name, tmp_path / f'{name}.onnx')


@pytest.mark.exhaustive
@pytest.mark.parametrize('name', ALL_MODELS)
def test_compile_exhaustive(name):
    _compile_matches_eager(name)


@pytest.mark.exhaustive
@pytest.mark.parametrize('name', ALL_MODELS)
def test_onnx_export_exhaustive(name, tmp_path):
    _onnx_matches_eager(name, tmp_path / f'{name}.onnx')


@pytest.mark.exhaustive
@pytest.mark.parametrize('name', REPRESENTATIVES)
def test_compile_inductor(name):
    torch.compiler.reset()
    model = _create(name).eval()
    x = torch.randn(BATCH, 3, IMG, IMG)
    with torch.no_grad():
        torch.testing.assert_close(torch.compile(model, fullgraph=True)(x), model(x), rtol=1e-4, atol=1e-4)
