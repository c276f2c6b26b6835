"""What needs a GPU: every kind under AMP (bf16, fp16) with channels_last, fp32 softmax under
autocast, torch.compile, and the benchmark's CUDA modes. Each test skips only without CUDA.

``tools/gpu_check.sh`` runs this file on a GPU machine.
"""
from __future__ import annotations

import pytest
import torch

from convattn_plugin.layers import create_attn, list_attentions

DEVICE = 'cuda'
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA (a GPU and a CUDA build of torch)')
AMP = {'bf16': torch.bfloat16, 'fp16': torch.float16}
SOFTMAX_KINDS = ('gc', 'selfattn', 'nonlocal', 'dualattn')


def _softmax_nodes(out: torch.Tensor) -> list:
    """Autograd nodes of softmax / fused attention reachable from ``out``."""
    found, seen, stack = [], set(), [out.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        if 'Softmax' in node.name() or 'ScaledDotProduct' in node.name():
            found.append(node)
        stack.extend(f for f, _ in node.next_functions)
    return found


def _saved_tensors(node) -> list[torch.Tensor]:
    values = [getattr(node, a) for a in dir(node) if a.startswith('_saved_')]
    return [v for v in values if isinstance(v, torch.Tensor)]


@pytest.mark.parametrize('amp', sorted(AMP))
@pytest.mark.parametrize('kind', list_attentions())
def test_amp_channels_last_forward_backward(kind, amp):
    m = create_attn(kind, 32).to(DEVICE).train()
    x = torch.randn(2, 32, 8, 8, device=DEVICE).contiguous(memory_format=torch.channels_last).requires_grad_(True)
    with torch.autocast(DEVICE, dtype=AMP[amp]):
        out = m(x)
    assert out.shape == x.shape and torch.isfinite(out).all()
    assert out.dtype in (AMP[amp], torch.float32)
    assert out.is_contiguous(memory_format=torch.channels_last), f'{kind} dropped channels_last'
    out.float().square().mean().backward()
    assert torch.isfinite(x.grad).all()
    for name, p in m.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


@pytest.mark.parametrize('amp', sorted(AMP))
@pytest.mark.parametrize('kind', SOFTMAX_KINDS)
def test_softmax_runs_in_fp32_under_autocast(kind, amp):
    m = create_attn(kind, 32).to(DEVICE).train()
    x = torch.randn(2, 32, 8, 8, device=DEVICE, requires_grad=True)
    with torch.autocast(DEVICE, dtype=AMP[amp]):
        out = m(x)
    nodes = _softmax_nodes(out)
    assert nodes, f'{kind}: no softmax in the graph'
    for node in nodes:
        dtypes = {t.dtype for t in _saved_tensors(node) if t.is_floating_point()}
        assert dtypes == {torch.float32}, f'{kind}: {node.name()} kept {dtypes}'


@pytest.mark.parametrize('kind', ['se', 'cbam', 'eca', 'gc'])
def test_compiled_model_matches_eager(kind):
    timm = pytest.importorskip('timm')
    import convattn_plugin  # noqa: F401 - registers the models
    torch._dynamo.reset()
    model = timm.create_model(f'resnet18_{kind}', num_classes=10).to(DEVICE).eval()
    x = torch.randn(2, 3, 64, 64, device=DEVICE)
    with torch.no_grad():
        expected = model(x)
        got = torch.compile(model)(x)
    torch.testing.assert_close(got, expected, rtol=1e-3, atol=1e-3)
    model.train()
    torch.compile(model)(x).sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_benchmark_on_cuda_amp_channels_last():
    from convattn_plugin.analysis.benchmark import run_benchmark
    results = run_benchmark(['resnet18+cbam', 'resnet18+timm:cbam'], modes=('infer', 'train'), batch_size=4,
                            img_size=64, rounds=3, device=DEVICE, amp='bf16', channels_last=True, attn_rounds=1,
                            progress=False)
    base, ours, theirs = results
    for r in results:
        assert r.train_mem_mb > 0 and r.modes['train'].images_per_s > 0
    assert ours.mem_extra_mb < theirs.mem_extra_mb                 # CBAM keeps one map less for backward
    assert ours.attn_ms > 0 and base.attn_ms == 0


@pytest.mark.parametrize('layout', ['contiguous', 'channels_last'])
@pytest.mark.parametrize('kind', ['eca', 'gc'])
def test_hand_written_backward_on_cuda_matches_float64(kind, layout):
    # fp32 training on CUDA takes ECA's and GC's hand-written backward; on the CPU in float64
    # the same backward is checked against the formula (tests/test_layers_fidelity.py).
    torch.manual_seed(0)
    m = create_attn(kind, 24).train()
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0, 0.5)
    x, weight = torch.randn(2, 2, 24, 9, 7).unbind(0)
    if layout == 'channels_last':
        x, weight = (t.contiguous(memory_format=torch.channels_last) for t in (x, weight))
    results = []
    for device, dtype in ((DEVICE, torch.float32), ('cpu', torch.float64)):
        mod = m.to(device, dtype)
        xx = x.to(device, dtype, copy=True).requires_grad_(True)
        with torch.backends.cudnn.flags(enabled=True, allow_tf32=False):   # ECA's conv in full fp32
            out = mod(xx)
            grads = torch.autograd.grad((out * weight.to(device, dtype)).sum(), [xx, *mod.parameters()])
        results.append([t.double().cpu() for t in (out, *grads)])
        if device == DEVICE:
            assert grads[0].is_contiguous(memory_format=torch.channels_last) == (layout == 'channels_last')
    for got, want in zip(*results):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
