"""Every fast path of layers/fast_paths.py against its kind's plain form, in float64.

Each case runs one module twice on the same input: as it is (the fast path must be taken) and
inside ``plain_forward()`` (it must not be), and compares outputs and, where the path runs under
autograd, the gradients of the input and of every parameter. The case list must name every entry
of ``FAST_PATHS``, so a new fast path cannot go without its check.
"""
import os
import subprocess
import sys

import pytest
import torch
import torch.nn as nn
from torch.overrides import TorchFunctionMode

from convattn_plugin.layers import (
    FAST_PATHS, create_attn, fast_paths_enabled, gate_derivative, plain_forward, register_gate_derivative,
)
from convattn_plugin.layers.fast_paths import channel_max


def _randomise(module: nn.Module, seed: int = 0) -> nn.Module:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * 0.5)
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.3, generator=gen)
                m.running_var.uniform_(0.5, 1.5, generator=gen)
    return module.double().eval()    # BN on fixed statistics: the two runs see the same function


class _Calls(TorchFunctionMode):
    """Records the names of the torch functions called, with the shape of their first argument."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        first = args[0] if args else None
        shape = tuple(first.shape) if isinstance(first, torch.Tensor) else None
        self.calls.append((getattr(func, '__name__', str(func)), shape))
        return func(*args, **(kwargs or {}))

    def names(self):
        return {name for name, _ in self.calls}


def _grad_fn_names(out: torch.Tensor) -> set:
    seen, todo = {}, [out.grad_fn]
    while todo:
        fn = todo.pop()
        if fn is None or id(fn) in seen:
            continue
        seen[id(fn)] = type(fn).__name__
        todo.extend(f for f, _ in fn.next_functions)
    return set(seen.values())


def _full_size_permutes(calls, shape):
    return sum(1 for name, s in calls if name == 'permute' and s == shape)


# name: (kind, options, input shape, under autograd, check that the fast path was taken:
#        f(grad_fn names, calls, input shape) -> bool)
CASES = {
    'cbam_recomputed_product': ('cbam', dict(rd_channels=3), (2, 6, 5, 7), True,
                                lambda fns, calls, shape: '_GateProductRecomputedBackward' in fns),
    'max_with_indices': ('cbam', dict(rd_channels=3), (2, 6, 5, 7), True,
                         lambda fns, calls, shape: 'MaxBackward0' in fns and 'AmaxBackward0' not in fns),
    'channel_max_halves': ('cbam', dict(rd_channels=4), (2, 33, 7, 8), False,
                           lambda fns, calls, shape: 'maximum' in {n for n, _ in calls}),
    'eca_product': ('eca', dict(kernel_size=5), (2, 12, 5, 7), True,
                    lambda fns, calls, shape: '_EcaProductBackward' in fns),
    'gc_attention_pooling': ('gc', dict(rd_ratio=1 / 4), (2, 12, 5, 7), True,
                             lambda fns, calls, shape: '_AttentionPoolingBackward' in fns),
    'gc_pointwise_conv_as_bmm': ('gc', dict(rd_ratio=1 / 4), (2, 12, 5, 7), False,
                                 lambda fns, calls, shape: 'baddbmm' in {n for n, _ in calls}),
    'triplet_summed_gates': ('triplet', dict(), (2, 6, 5, 7), True,
                             lambda fns, calls, shape: _full_size_permutes(calls, shape) == 0),
}


def test_every_fast_path_has_a_case():
    assert set(CASES) == set(FAST_PATHS)


def _run(module, x, autograd):
    x = x.clone().requires_grad_(autograd)
    params = [p for p in module.parameters() if p.requires_grad]
    with _Calls() as recorder:
        out = module(x)
    if not autograd:
        return out, (), recorder.calls, set()
    weight = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)
    grads = torch.autograd.grad((out * weight).sum(), [x, *params])
    return out, grads, recorder.calls, _grad_fn_names(out)


@pytest.mark.parametrize('layout', ['contiguous', 'channels_last'])
@pytest.mark.parametrize('name', FAST_PATHS)
def test_fast_path_equals_plain_form(name, layout):
    kind, options, shape, autograd, taken = CASES[name]
    module = _randomise(create_attn(kind, shape[1], **options))
    x = torch.randn(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    if layout == 'channels_last':
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.set_grad_enabled(autograd):
        out, grads, calls, fns = _run(module, x, autograd)
        with plain_forward():
            out_plain, grads_plain, calls_plain, fns_plain = _run(module, x, autograd)
    contiguous_only = name == 'channel_max_halves'      # channels-last maxima use amax
    if layout == 'contiguous' or not contiguous_only:
        assert taken(fns, calls, shape), f'{name} was not taken'
    assert not taken(fns_plain, calls_plain, shape), f'{name} was taken inside plain_forward()'
    torch.testing.assert_close(out, out_plain, rtol=1e-12, atol=1e-12)
    assert len(grads) == len(grads_plain)
    for got, want in zip(grads, grads_plain):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize('name', [n for n in FAST_PATHS if CASES[n][3]])
def test_fast_path_gradcheck(name):
    kind, options, shape, _, _ = CASES[name]
    module = _randomise(create_attn(kind, shape[1], **options))
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    params = tuple(module.parameters())
    assert torch.autograd.gradcheck(lambda t, *p: module(t), (x, *params))


@pytest.mark.parametrize('shape', [(2, 33, 7, 8), (1, 256, 8, 8), (1, 2048, 7, 7), (2, 64, 9, 9), (1, 7, 3, 3),
                                   (2, 2, 4, 4)], ids=str)
def test_cbam_inference_is_bitwise_the_plain_form(shape):
    # The inference form (maxima of channel halves on small maps) changes no value, on either
    # side of the size where it starts.
    module = _randomise(create_attn('cbam', shape[1], rd_channels=2))
    x = torch.randn(shape, dtype=torch.float64)
    with torch.no_grad():
        assert torch.equal(channel_max(x), x.amax(1, keepdim=True))
        with plain_forward():
            plain = module(x)
        assert torch.equal(module(x), plain)


def test_switch_is_restored_and_nests():
    assert fast_paths_enabled()
    with pytest.raises(RuntimeError, match='boom'):
        with plain_forward():
            assert not fast_paths_enabled()
            with plain_forward(False):
                assert fast_paths_enabled()
            assert not fast_paths_enabled()
            raise RuntimeError('boom')
    assert fast_paths_enabled()
    with pytest.raises(TypeError, match='plain_forward: plain must be a bool'):
        with plain_forward('yes'):
            pass


def test_environment_variable_sets_the_default():
    code = 'from convattn_plugin.layers import fast_paths_enabled; print(fast_paths_enabled())'
    for value, expected in (('1', 'False'), ('0', 'True')):
        env = dict(os.environ, CONVATTN_PLAIN_FORWARD=value)
        out = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True, check=True)
        assert out.stdout.strip() == expected


# ---- ECA's hand-written backward takes the gate's derivative from the registry ----------

def _eca_grads(module, x):
    x = x.clone().requires_grad_()
    out = module(x)
    weight = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)
    return out, torch.autograd.grad((out * weight).sum(), [x, module.conv.weight]), _grad_fn_names(out)


class _ScaledSigmoid(nn.Module):
    def forward(self, t):
        return 2 * torch.sigmoid(t)


@pytest.mark.parametrize('gate, fused', [(nn.Sigmoid(), True), (nn.Tanh(), True), (nn.SiLU(), False),
                                         (_ScaledSigmoid(), False)], ids=['sigmoid', 'tanh', 'silu', 'subclass'])
def test_eca_backward_follows_its_gate(gate, fused):
    # A gate with a registered derivative takes the hand-written backward; another gate the
    # plain form. Either way the gradients are the plain form's (never a sigmoid's by default).
    module = _randomise(create_attn('eca', 10, kernel_size=3))
    module.gate = gate
    x = torch.randn(2, 10, 4, 5, dtype=torch.float64)
    out, grads, fns = _eca_grads(module, x)
    with plain_forward():
        out_plain, grads_plain, fns_plain = _eca_grads(module, x)
    assert ('_EcaProductBackward' in fns) == fused
    assert '_EcaProductBackward' not in fns_plain
    torch.testing.assert_close(out, out_plain)
    for got, want in zip(grads, grads_plain):
        torch.testing.assert_close(got, want)


def test_register_gate_derivative():
    class Gate(nn.Module):   # 1 - sigmoid(-t) == sigmoid(t): derivative g * (1 - g)
        def forward(self, t):
            return 1 - torch.sigmoid(-t)

    assert gate_derivative(Gate()) is None
    register_gate_derivative(Gate, lambda g: g * (1 - g))
    module = _randomise(create_attn('eca', 10, kernel_size=3))
    module.gate = Gate()
    x = torch.randn(2, 10, 4, 5, dtype=torch.float64, requires_grad=True)
    assert '_EcaProductBackward' in _grad_fn_names(module(x))
    assert torch.autograd.gradcheck(lambda t, w: module(t), (x, module.conv.weight))
    with pytest.raises(TypeError, match='gate_type must be an nn.Module class'):
        register_gate_derivative(torch.sigmoid, lambda g: g)
    with pytest.raises(TypeError, match='derivative must be callable'):
        register_gate_derivative(Gate, 0.25)
