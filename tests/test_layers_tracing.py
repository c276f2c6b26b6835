"""Every registered kind under FX, TorchScript, FX then TorchScript, and ``torch.export``.

What timm checks on its own models, at the layer level: the traced, scripted or exported
module computes what the eager module computes (forward, and backward where the graph
keeps autograd), the exported one at sizes it was not traced at, and the clear errors
on bad input survive tracing and scripting.
"""
import copy
import warnings

import pytest
import torch
import torch.nn as nn
from torch.export import Dim, export

from convattn_plugin.layers import create_attn, get_attn_info, list_attentions

KINDS = list_attentions()
CHANNELS = [3, 16]

pytestmark = [
    pytest.mark.filterwarnings('ignore:`torch.jit.script` is deprecated:FutureWarning'),
    # Raised by torch's own GraphModule.__init__ when an FX graph is scripted.
    pytest.mark.filterwarnings('ignore:The TorchScript type system doesn.t support instance-level annotations'),
]


def _random_module(kind: str, channels: int, training: bool) -> nn.Module:
    """A module with random values everywhere, so zero-initialised scales take part."""
    torch.manual_seed(0)
    module = create_attn(kind, channels)
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0, 0.5)
    return module.train(training)


def _forward_backward(module: nn.Module, x: torch.Tensor):
    x = x.clone().requires_grad_(True)
    out = module(x)
    out.square().sum().backward()
    grads = {name: p.grad for name, p in module.named_parameters()}
    return out.detach(), x.grad, grads


def _assert_same_forward_backward(eager: nn.Module, other: nn.Module, x: torch.Tensor) -> None:
    out, x_grad, grads = _forward_backward(eager, x)
    out2, x_grad2, grads2 = _forward_backward(other, x)
    torch.testing.assert_close(out2, out, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(x_grad2, x_grad, rtol=1e-4, atol=1e-5)
    assert grads2.keys() == grads.keys()
    assert all(g is not None and grads2[name] is not None for name, g in grads.items()), 'a parameter got no gradient'
    # Rounding scales with the gradients' size: eager training may take a hand-written
    # backward (ECA, GC) and the traced/scripted module the plain form. A gradient that is
    # zero in exact arithmetic (GC's LayerNorm over one value, at 3 and 16 channels) is then
    # rounding noise of the module's largest gradient, amplified by 1/sqrt(eps).
    atol = 1e-4 * max([0.1] + [g.abs().max().item() for g in grads.values()])
    for name, g in grads.items():
        torch.testing.assert_close(grads2[name], g, rtol=1e-4, atol=atol, msg=f'gradient of {name}')


@pytest.mark.parametrize('training', [True, False], ids=['train', 'eval'])
@pytest.mark.parametrize('channels', CHANNELS)
@pytest.mark.parametrize('kind', KINDS)
def test_fx_symbolic_trace_matches_eager(kind, channels, training):
    eager = _random_module(kind, channels, training)
    traced = torch.fx.symbolic_trace(copy.deepcopy(eager))
    assert isinstance(traced, torch.fx.GraphModule)
    _assert_same_forward_backward(eager, traced, torch.randn(2, channels, 9, 12))


@pytest.mark.parametrize('training', [True, False], ids=['train', 'eval'])
@pytest.mark.parametrize('channels', CHANNELS)
@pytest.mark.parametrize('kind', KINDS)
def test_torchscript_matches_eager(kind, channels, training):
    eager = _random_module(kind, channels, training)
    scripted = torch.jit.script(copy.deepcopy(eager))
    _assert_same_forward_backward(eager, scripted, torch.randn(2, channels, 9, 12))


@pytest.mark.parametrize('kind', KINDS)
def test_fx_then_torchscript_matches_eager(kind):
    eager = _random_module(kind, 16, training=False)
    scripted = torch.jit.script(torch.fx.symbolic_trace(copy.deepcopy(eager)))
    x = torch.randn(2, 16, 10, 7)
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), eager(x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('kind', KINDS)
def test_export_with_dynamic_height_and_width_runs_at_other_sizes(kind):
    eager = _random_module(kind, 16, training=False)
    # Quadratic kinds build an (H*W)^2 matrix: the same sizes, all small on a CPU.
    dims = {2: Dim('height', min=2, max=256), 3: Dim('width', min=2, max=256)}
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        program = export(copy.deepcopy(eager), (torch.randn(2, 16, 16, 16),), dynamic_shapes={'x': dims})
    exported = program.module()
    sizes = [(8, 8), (24, 24), (40, 40), (8, 40), (13, 5)]
    if get_attn_info(kind).quadratic:
        sizes = [(8, 8), (24, 24), (8, 40), (13, 5)]
    for size in sizes:
        x = torch.randn(2, 16, *size)
        with torch.no_grad():
            torch.testing.assert_close(exported(x), eager(x), rtol=1e-4, atol=1e-5, msg=f'at {size}')


@pytest.mark.parametrize('kind', KINDS)
def test_export_behind_a_downsampling_layer(kind):
    """As in a backbone: the layer sees H // 8 and W // 8, sizes export must not guard on."""
    model = nn.Sequential(nn.AvgPool2d(8), _random_module(kind, 16, training=False)).eval()
    dims = {2: Dim('height', min=32, max=200), 3: Dim('width', min=32, max=200)}
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        exported = export(copy.deepcopy(model), (torch.randn(2, 16, 96, 96),), dynamic_shapes=({**dims},)).module()
    for size in [(32, 32), (200, 72), (120, 160)]:
        x = torch.randn(2, 16, *size)
        with torch.no_grad():
            torch.testing.assert_close(exported(x), model(x), rtol=1e-4, atol=1e-5, msg=f'at {size}')


@pytest.mark.parametrize('kind', KINDS)
def test_bad_input_errors_survive_fx_and_torchscript(kind):
    module = create_attn(kind, 8).eval()
    traced = torch.fx.symbolic_trace(copy.deepcopy(module))
    scripted = torch.jit.script(copy.deepcopy(module))
    expected = 'built for 8 channels, got an input with 6 channels'
    with pytest.raises(ValueError, match=expected):
        traced(torch.randn(1, 6, 4, 4))
    with pytest.raises(ValueError, match=r'expects a 4-D input \(N, C, H, W\) with C=8, got a 3-D'):
        traced(torch.randn(8, 4, 4))
    # TorchScript raises its own error type carrying the same message.
    with pytest.raises(torch.jit.Error, match=expected):
        scripted(torch.randn(1, 6, 4, 4))


@pytest.mark.parametrize('kind', KINDS)
def test_empty_height_or_width_is_refused(kind):
    module = create_attn(kind, 8).eval()
    for shape in [(1, 8, 0, 5), (1, 8, 5, 0)]:
        with pytest.raises(ValueError, match=r'needs a feature map with at least one position \(H, W >= 1\), '
                                             rf'got an input of shape \[{", ".join(map(str, shape))}\]'):
            module(torch.zeros(shape))
