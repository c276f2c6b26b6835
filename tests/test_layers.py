"""Contract tests of every registered attention kind (parametrized over the registry).

A kind registered later is covered automatically: nothing here names a kind except the
tests of the registry's own behaviour.
"""
from __future__ import annotations

import io

import pytest
import torch
import torch.nn as nn
from torch.utils._python_dispatch import TorchDispatchMode

from convattn_plugin.layers import create_attn, get_attn_info, list_attentions, register_attention

KINDS = list_attentions()
# Channel counts: 1 and 3 stress the bottleneck widths, 32 is an ordinary one.
CHANNELS = [1, 3, 32]
# Spatial sizes: 1x1, non-square, square.
SIZES = [(1, 1), (5, 3), (8, 8)]


def _build(kind: str, channels: int, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return create_attn(kind, channels)


def _randomize(module: nn.Module, seed: int = 0) -> nn.Module:
    """Give every parameter random values, so zero-initialised scales (gamma, BN) take part."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    return module


def test_registry_has_the_issue_kinds():
    required = {'convgate', 'selfattn', 'cbam', 'localattn', 'dualattn', 'se', 'eca', 'bam', 'gc',
                'coord', 'simam', 'triplet', 'nonlocal'}
    assert required <= set(KINDS)
    for kind in KINDS:
        assert get_attn_info(kind).paper, f'{kind} has no paper citation'


@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('channels', CHANNELS)
@pytest.mark.parametrize('size', SIZES, ids=lambda s: f'{s[0]}x{s[1]}')
def test_shape_finite_and_gradients(kind, channels, size):
    module = _build(kind, channels).train()
    x = torch.randn(1, channels, *size, requires_grad=True)
    out = module(x)
    assert out.shape == x.shape
    assert torch.isfinite(out).all()
    out.square().sum().backward()
    assert torch.isfinite(x.grad).all()
    for name, p in module.named_parameters():
        assert p.grad is not None, f'{kind}: parameter {name} received no gradient'
        assert torch.isfinite(p.grad).all(), f'{kind}: non-finite gradient in {name}'


@pytest.mark.parametrize('kind', KINDS)
def test_every_parameter_takes_part(kind):
    """With random (non-zero) values everywhere, every parameter gets a non-zero gradient."""
    module = _randomize(_build(kind, 32)).train()
    x = torch.randn(2, 32, 8, 8, requires_grad=True)
    module(x).square().sum().backward()
    for name, p in module.named_parameters():
        assert p.grad.abs().sum() > 0, f'{kind}: parameter {name} does not affect the output'


@pytest.mark.parametrize('kind', KINDS)
def test_new_module_does_not_amplify_features(kind):
    """A new module keeps the features within twice their scale (no blow-up at init)."""
    module = _build(kind, 16).eval()
    x = torch.randn(2, 16, 6, 6)
    out = module(x)
    assert out.abs().max() <= 2.0 * x.abs().max() + 1e-6


@pytest.mark.parametrize('kind', KINDS)
def test_channels_last_is_kept(kind):
    module = _randomize(_build(kind, 16)).eval()
    x = torch.randn(2, 16, 7, 6)
    expected = module(x)
    out = module(x.contiguous(memory_format=torch.channels_last))
    assert out.is_contiguous(memory_format=torch.channels_last), f'{kind} dropped channels_last'
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-5)


class _RecordAttentionDtypes(TorchDispatchMode):
    """Records the floating dtypes that reach softmax / attention kernels."""

    def __init__(self):
        super().__init__()
        self.seen: list[tuple[str, torch.dtype]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        if 'softmax' in name or 'attention' in name:
            for a in args:
                if isinstance(a, torch.Tensor) and a.is_floating_point():
                    self.seen.append((name, a.dtype))
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize('kind', KINDS)
def test_bf16_autocast_and_fp32_softmax(kind):
    module = _randomize(_build(kind, 16)).train()
    x = torch.randn(2, 16, 6, 5) * 1e3
    recorder = _RecordAttentionDtypes()
    with torch.autocast('cpu', dtype=torch.bfloat16), recorder:
        out = module(x)
    assert out.shape == x.shape
    assert torch.isfinite(out.float()).all(), f'{kind} overflowed on inputs scaled by 1e3'
    assert all(dtype == torch.float32 for _, dtype in recorder.seen), (
        f'{kind} ran softmax/attention in reduced precision: {recorder.seen}')
    # The recorder sees what it should: the quadratic kinds do run an attention kernel.
    if get_attn_info(kind).quadratic:
        assert recorder.seen


@pytest.mark.parametrize('kind', [k for k in KINDS if hasattr(create_attn(k, 8), 'use_sdpa')])
def test_sdpa_equals_explicit_formula(kind):
    fused = _randomize(_build(kind, 16)).eval()
    explicit = _randomize(_build(kind, 16)).eval()
    explicit.use_sdpa = False
    x = torch.randn(2, 16, 7, 5)
    torch.testing.assert_close(fused(x), explicit(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('kind', KINDS)
def test_state_dict_round_trip(kind):
    source = _randomize(_build(kind, 16, seed=0), seed=1).eval()
    target = _build(kind, 16, seed=2).eval()
    buffer = io.BytesIO()
    torch.save(source.state_dict(), buffer)
    buffer.seek(0)
    missing, unexpected = target.load_state_dict(torch.load(buffer, weights_only=True))
    assert not missing and not unexpected
    x = torch.randn(2, 16, 6, 6)
    torch.testing.assert_close(target(x), source(x))


@pytest.mark.parametrize('kind', KINDS)
def test_torch_compile_fullgraph_matches_eager(kind):
    module = _randomize(_build(kind, 16)).eval()
    x = torch.randn(2, 16, 8, 6)
    compiled = torch.compile(module, fullgraph=True, dynamic=False)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), module(x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('kind', KINDS)
def test_onnx_export_matches_onnxruntime(kind, tmp_path):
    ort = pytest.importorskip('onnxruntime', reason='onnxruntime is part of the [test] extra')
    module = _randomize(_build(kind, 16)).eval()
    x = torch.randn(2, 16, 8, 6)
    path = tmp_path / f'{kind}.onnx'
    torch.onnx.export(module, (x,), str(path), input_names=['x'], output_names=['y'], dynamo=True)
    session = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    (got,) = session.run(None, {'x': x.numpy()})
    with torch.no_grad():
        expected = module(x).numpy()
    assert abs(got - expected).max() <= 1e-4


# ---- bad input ----------------------------------------------------------------------

def test_unknown_kind_lists_known_kinds():
    with pytest.raises(ValueError, match=r"unknown attention kind 'nope'.*cbam.*se"):
        create_attn('nope', 8)


@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('channels', [0, -4, 2.5, True, '8', None])
def test_channels_must_be_a_positive_int(kind, channels):
    with pytest.raises(ValueError, match='channels must be a positive int'):
        create_attn(kind, channels)


@pytest.mark.parametrize('kind', KINDS)
def test_non_4d_input_is_refused(kind):
    module = create_attn(kind, 8)
    with pytest.raises(ValueError, match=r'expects a 4-D input \(N, C, H, W\) with C=8, got a 3-D'):
        module(torch.randn(8, 4, 4))


@pytest.mark.parametrize('kind', KINDS)
def test_wrong_channel_count_is_refused(kind):
    module = create_attn(kind, 8)
    with pytest.raises(ValueError, match='built for 8 channels, got an input with 6 channels'):
        module(torch.randn(1, 6, 4, 4))


# ---- the registry ---------------------------------------------------------------------

def test_create_attn_falsy_and_class_pass_through():
    assert create_attn(None, 8) is None
    assert create_attn('', 8) is None
    assert create_attn(False, 8) is None
    cls = type(create_attn('se', 8))
    assert isinstance(create_attn(cls, 8, rd_ratio=0.5), cls)


def test_register_a_user_kind():
    @register_attention('test_identity_gate', paper='a test kind')
    class IdentityGate(nn.Module):
        def __init__(self, channels, device=None, dtype=None):
            super().__init__()
            self.scale = nn.Parameter(torch.ones(channels, 1, 1, device=device, dtype=dtype))

        def forward(self, x):
            return x * self.scale

    try:
        assert 'test_identity_gate' in list_attentions()
        module = create_attn('test_identity_gate', 4)
        assert isinstance(module, IdentityGate) and module.scale.shape == (4, 1, 1)
        with pytest.raises(ValueError, match='already registered'):
            register_attention('test_identity_gate')(type('Other', (nn.Module,), {}))
    finally:
        from convattn_plugin.layers import registry
        registry._REGISTRY.pop('test_identity_gate', None)


@pytest.mark.parametrize('bad', ['', 'has space', 3])
def test_register_rejects_bad_names(bad):
    with pytest.raises(ValueError, match='attention name must be'):
        register_attention(bad)


def test_kind_options_are_checked():
    with pytest.raises(ValueError, match=r'SqueezeExcite: rd_ratio must be a finite number > 0.0 and <= 1.0, got 0'):
        create_attn('se', 16, rd_ratio=0)
    with pytest.raises(ValueError, match=r'CBAM: kernel_size must be a positive odd int \(at most 63\), got 4'):
        create_attn('cbam', 16, kernel_size=4)


@pytest.mark.parametrize('kind', KINDS)
def test_unknown_option_names_it_and_lists_the_accepted_ones(kind):
    from convattn_plugin.layers import accepted_options
    accepted = accepted_options(get_attn_info(kind).cls)
    with pytest.raises(ValueError, match=rf"'{kind}' attention has no option 'no_such_option', 'rd_ratoi'; "
                                         rf"accepted options: {', '.join(accepted)}$"):
        create_attn(kind, 16, no_such_option=1, rd_ratoi=0.5)


def test_reductions_never_reach_zero():
    for kind in KINDS:
        module = create_attn(kind, 1)
        for m in module.modules():
            if isinstance(m, (nn.Conv2d, nn.Conv1d)):
                assert m.in_channels >= 1 and m.out_channels >= 1


def test_device_and_dtype_are_honoured():
    for kind in KINDS:
        module = create_attn(kind, 8, device='meta', dtype=torch.float64)
        for name, p in module.named_parameters():
            assert p.device.type == 'meta' and p.dtype == torch.float64, f'{kind}.{name}'


@pytest.mark.parametrize('kind', KINDS)
def test_meta_device_forward_gives_shapes(kind):
    """Shape-only runs (FLOP counting, model summaries) work on the meta device."""
    module = create_attn(kind, 16, device='meta')
    assert module(torch.empty(2, 16, 8, 6, device='meta')).shape == (2, 16, 8, 6)
