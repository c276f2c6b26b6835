"""Attention models as segmentation_models_pytorch encoders: ``smp.Unet('tu-resnet18_cbam')``.

smp's ``tu-`` prefix builds any timm name with ``features_only`` (its ``TimmUniversalEncoder``);
after ``import convattn_plugin`` that includes every attention model of this package.
"""
from __future__ import annotations

import pytest
import timm
import torch
import torch.nn as nn

import convattn_plugin  # noqa: F401  (registers resnet18_cbam, ...)
from convattn_plugin.models import attention_types, load_backbone_weights

smp = pytest.importorskip(
    'segmentation_models_pytorch',
    reason='segmentation-models-pytorch is not installed: pip install "convattn_plugin[dense]"')

pytestmark = [
    pytest.mark.usefixtures('one_thread'),
    pytest.mark.filterwarnings('ignore:`torch.jit.script` is deprecated:FutureWarning'),
]

SIZE, CLASSES = 64, 3
RESNET_CHANNELS = {'resnet18': [64, 64, 128, 256, 512], 'resnet34': [64, 64, 128, 256, 512],
                   'resnet50': [64, 256, 512, 1024, 2048]}


def _attention_modules(module: nn.Module) -> dict[str, nn.Module]:
    attn = attention_types()
    return {n: m for n, m in module.named_modules() if isinstance(m, attn)}


def _check_attention_gradients(module: nn.Module) -> None:
    """Backward reaches every attention parameter, and every attention module gets a non-zero gradient.

    Not every single parameter: a bias added before a softmax over positions (GC's
    ``conv_attn.bias``, a key projection's bias) has a zero gradient by construction.
    """
    modules = _attention_modules(module)
    unreached = [f'{n}.{k}' for n, m in modules.items() for k, p in m.named_parameters() if p.grad is None]
    assert not unreached, f'attention parameters backward did not reach: {unreached}'
    zero = [n for n, m in modules.items()
            if list(m.parameters()) and not sum(p.grad.abs().sum() for p in m.parameters()) > 0]
    assert not zero, f'attention modules with an all-zero gradient: {zero}'


def _wake_zero_params(model: nn.Module) -> None:
    """A new model is partly the identity (timm's zero last BN of each block, GC's zero last
    conv, non-local's zero output norm), where gradients to the layers before are exactly zero."""
    with torch.no_grad():
        for p in model.parameters():
            if not p.any():
                p.normal_(0, 0.5)


CASES = [
    # (decoder, encoder, smp options, channels of the returned stages, output stride)
    ('Unet', 'resnet18_cbam', {}, RESNET_CHANNELS['resnet18'], 32),
    ('FPN', 'resnet50_gc', {}, RESNET_CHANNELS['resnet50'], 32),
    ('DeepLabV3Plus', 'resnet34_nonlocal', {}, RESNET_CHANNELS['resnet34'], 16),  # smp's default: dilated layer4
    ('DeepLabV3Plus', 'resnet18_simam', dict(encoder_output_stride=8), RESNET_CHANNELS['resnet18'], 8),
    ('Unet', 'resnet18_eca', dict(encoder_depth=3, decoder_channels=(32, 16, 8)),
     RESNET_CHANNELS['resnet18'][:3], 32),
]


@pytest.mark.parametrize('decoder, encoder, options, channels, output_stride', CASES,
                         ids=[f'{c[0]}-{c[1]}' for c in CASES])
def test_encoder_channels_strides_output_and_backward(decoder, encoder, options, channels, output_stride):
    torch.manual_seed(0)
    model = getattr(smp, decoder)(f'tu-{encoder}', encoder_weights=None, classes=CLASSES, **options)
    assert model.encoder.out_channels == [3] + channels
    x = torch.randn(2, 3, SIZE, SIZE)
    features = model.encoder(x)
    assert [f.shape[1] for f in features] == [3] + channels
    strides = [min(2 ** i, output_stride) for i in range(len(features))]  # dilated beyond output_stride
    assert [tuple(f.shape[2:]) for f in features] == [(SIZE // s, SIZE // s) for s in strides]

    _wake_zero_params(model)
    out = model(x)
    assert out.shape == (2, CLASSES, SIZE, SIZE) and torch.isfinite(out).all()
    nn.functional.cross_entropy(out, torch.randint(0, CLASSES, (2, SIZE, SIZE))).backward()
    assert _attention_modules(model.encoder)
    _check_attention_gradients(model.encoder)


@pytest.fixture
def plain18_file(tmp_path):
    """A plain timm resnet18 checkpoint (random weights, no download)."""
    torch.manual_seed(0)
    path = tmp_path / 'resnet18.pth'
    torch.save(timm.create_model('resnet18').state_dict(), path)
    return path


def test_plain_weights_into_the_encoder_only_attention_fresh(plain18_file):
    model = smp.Unet('tu-resnet18_cbam', encoder_weights=None, classes=CLASSES)
    report = load_backbone_weights(model.encoder.model, plain18_file)
    assert report.attention_keys and report.missing_keys == report.attention_keys
    assert all('.se.' in k for k in report.attention_keys)
    assert report.unexpected_keys == ['fc.bias', 'fc.weight']  # the classifier, not in features_only
    assert not report.mismatched_keys
    plain = torch.load(plain18_file, weights_only=True)
    assert torch.equal(model.encoder.model.layer4[1].conv2.weight, plain['layer4.1.conv2.weight'])


def test_checkpoint_of_another_backbone_is_refused(plain18_file):
    model = smp.FPN('tu-resnet34_cbam', encoder_weights=None, classes=CLASSES)
    with pytest.raises(ValueError, match='does not cover the backbone'):
        load_backbone_weights(model.encoder.model, plain18_file)


def test_a_shallow_encoder_drops_attention_placed_in_later_stages():
    """DANet's module sits after layer4: an encoder of depth 3 (up to layer2) has none of it."""
    deep = smp.Unet('tu-resnet18_dualattn', encoder_weights=None, classes=CLASSES)
    shallow = smp.Unet('tu-resnet18_dualattn', encoder_weights=None, classes=CLASSES, encoder_depth=3,
                       decoder_channels=(32, 16, 8))
    assert list(_attention_modules(deep.encoder)) == ['model.layer4.attn']
    assert not _attention_modules(shallow.encoder)


def _eval_model() -> nn.Module:
    torch.manual_seed(0)
    model = smp.Unet('tu-resnet18_cbam', encoder_weights=None, classes=CLASSES, encoder_depth=4,
                     decoder_channels=(32, 16, 8, 8))
    _wake_zero_params(model)
    return model.eval()


def test_torchscript_and_torch_export_match_eager():
    """smp declares its models (and the tu- encoder) scriptable and exportable; ours stay so."""
    model = _eval_model()
    x = torch.randn(1, 3, SIZE, SIZE)
    with torch.no_grad():
        expected = model(x)
        torch.testing.assert_close(torch.jit.script(model)(x), expected)
        torch.testing.assert_close(torch.export.export(model, (x,)).module()(x), expected)


@pytest.mark.exhaustive  # ~10 s; torch.export above is the graph capture ONNX's dynamo export uses
def test_onnx_export_matches_eager(tmp_path):
    ort = pytest.importorskip('onnxruntime', reason='onnxruntime is not installed: pip install onnxruntime')
    model = _eval_model()
    x = torch.randn(1, 3, SIZE, SIZE)
    with torch.no_grad():
        expected = model(x).numpy()
    path = tmp_path / 'unet.onnx'
    torch.onnx.export(model, (x,), str(path), dynamo=True)
    session = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    (out,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    assert out.shape == (1, CLASSES, SIZE, SIZE)
    assert abs(out - expected).max() < 1e-4 * max(1.0, abs(expected).max())
