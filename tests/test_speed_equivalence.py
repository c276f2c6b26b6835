"""The faster SE / CBAM / ECA forwards equal their straightforward forms.

The references below spell out each paper's formula with the module's own parameters,
as the layers did before they were tuned for speed (1x1 convolutions, two MLP calls,
``amax`` over channels, out-of-place products). Values and gradients must match to
fp32 round-off; the max-pooling paths must match exactly.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from convattn_plugin.layers import CBAM, EfficientChannelAttn, GlobalContext, SqueezeExcite
from convattn_plugin.layers.fast_paths import channel_max


def ref_se(m: SqueezeExcite, x):
    s = x.mean((2, 3), keepdim=True)
    return x * torch.sigmoid(m.fc2(m.act(m.fc1(s))))


def ref_cbam(m: CBAM, x):
    def mlp(p):
        return m.fc2(m.act(m.fc1(p)))
    x = x * torch.sigmoid(mlp(x.mean((2, 3), keepdim=True)) + mlp(x.amax((2, 3), keepdim=True)))
    sp = m.spatial
    pooled = torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], dim=1)
    return x * torch.sigmoid(sp.bn(sp.conv(pooled)))


def ref_eca(m: EfficientChannelAttn, x):
    n, c = x.shape[:2]
    y = m.conv(x.mean((2, 3)).view(n, 1, c))
    return x * torch.sigmoid(y).view(n, c, 1, 1)


CASES = [(SqueezeExcite, ref_se), (CBAM, ref_cbam), (EfficientChannelAttn, ref_eca)]
SHAPES = [(2, 32, 8, 8), (3, 33, 5, 7), (1, 7, 1, 1), (2, 64, 3, 3)]
EXPECTED_KEYS = {
    SqueezeExcite: {'fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias'},
    CBAM: {'fc1.weight', 'fc2.weight', 'spatial.conv.weight', 'spatial.bn.weight', 'spatial.bn.bias',
           'spatial.bn.running_mean', 'spatial.bn.running_var', 'spatial.bn.num_batches_tracked'},
    EfficientChannelAttn: {'conv.weight'},
}


def _randomise(m):
    torch.manual_seed(1)
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0, 0.5)
    for b in m.buffers():
        if b.dtype.is_floating_point:
            b.uniform_(0.5, 1.5)
    return m


@pytest.mark.parametrize('cls,ref', CASES, ids=lambda v: getattr(v, '__name__', ''))
@pytest.mark.parametrize('shape', SHAPES, ids=str)
def test_inference_equals_reference(cls, ref, shape):
    m = _randomise(cls(shape[1])).eval()
    x = torch.randn(shape)
    with torch.no_grad():
        expected = ref(m, x)
        for inplace in (False, True):
            m.inplace = inplace
            xin = x.clone()
            torch.testing.assert_close(m(xin), expected)
        xin = x.clone()
        with torch.inference_mode():
            torch.testing.assert_close(m(xin), expected)


@pytest.mark.parametrize('cls,ref', CASES, ids=lambda v: getattr(v, '__name__', ''))
@pytest.mark.parametrize('shape', SHAPES[:2], ids=str)
def test_training_values_and_gradients_equal_reference(cls, ref, shape):
    m = _randomise(cls(shape[1])).train()
    m.inplace = True  # must not matter under autograd
    x = torch.randn(shape)
    g = torch.randn(shape)
    x1 = x.clone().requires_grad_(True)
    out = m(x1)
    grads = torch.autograd.grad(out, [x1, *m.parameters()], g)
    m2 = _randomise(cls(shape[1])).train()
    x2 = x.clone().requires_grad_(True)
    out2 = ref(m2, x2)
    grads2 = torch.autograd.grad(out2, [x2, *m2.parameters()], g)
    torch.testing.assert_close(out, out2)
    for a, b in zip(grads, grads2):
        torch.testing.assert_close(a, b)
    assert torch.equal(x1.detach(), x)  # input untouched


@pytest.mark.parametrize('cls', [SqueezeExcite, CBAM, EfficientChannelAttn, GlobalContext])
def test_input_kept_unless_inplace(cls):
    m = cls(16).eval()
    x = torch.randn(2, 16, 6, 6)
    x0 = x.clone()
    with torch.no_grad():
        out = m(x)
    assert torch.equal(x, x0) and out.data_ptr() != x.data_ptr()
    assert m.inplace is False  # the default: the input is never overwritten
    m = cls(16, inplace=True).eval()
    with torch.no_grad():
        out = m(x)
    assert out.data_ptr() == x.data_ptr()               # written into the block's own map
    with torch.enable_grad():
        x2 = x0.clone()
        m(x2)
    assert torch.equal(x2, x0)                          # never under autograd


@pytest.mark.parametrize('cls', [SqueezeExcite, CBAM, EfficientChannelAttn])
def test_parameter_names_unchanged(cls):
    assert set(cls(32).state_dict()) == EXPECTED_KEYS[cls]


@pytest.mark.parametrize('shape', [(2, 1, 4, 4), (2, 2, 3, 3), (1, 7, 5, 1), (2, 33, 7, 7), (1, 256, 2, 2),
                                   (2, 6, 8, 8), (1, 12, 9, 9), (1, 2048, 7, 7)], ids=str)
def test_channel_max_is_exact(shape):
    x = torch.randn(shape)
    with torch.no_grad():
        assert torch.equal(channel_max(x), x.amax(1, keepdim=True))
        xt = x.transpose(2, 3)                          # not contiguous: falls back to amax
        assert torch.equal(channel_max(xt), xt.amax(1, keepdim=True))
        xc = x.contiguous(memory_format=torch.channels_last)
        assert torch.equal(channel_max(xc), x.amax(1, keepdim=True))


def test_channels_last_and_broadcast_inputs():
    m = _randomise(CBAM(16)).eval()
    m.inplace = True
    x = torch.randn(2, 16, 5, 5)
    with torch.no_grad():
        expected = ref_cbam(m, x)
        torch.testing.assert_close(m(x.clone().contiguous(memory_format=torch.channels_last)), expected)
        xb = torch.randn(1, 16, 1, 1).expand(2, 16, 5, 5)   # overlapping memory: no in-place write
        torch.testing.assert_close(m(xb), ref_cbam(m, xb))


@pytest.mark.parametrize('cls', [SqueezeExcite, CBAM, EfficientChannelAttn])
def test_no_graph_breaks(cls):
    torch._dynamo.reset()
    m = cls(16).eval()
    m.inplace = True
    compiled = torch.compile(m, backend='eager', fullgraph=True)
    x = torch.randn(2, 16, 6, 6)
    with torch.no_grad():
        expected = m(x.clone())
        torch.testing.assert_close(compiled(x.clone()), expected)
    m.train()
    compiled(torch.randn(2, 16, 6, 6, requires_grad=True)).sum().backward()


# --------------------------------------------------------------------------- gates that keep less

def test_recomputed_gate_product_gradcheck():
    """Value and gradient of the recomputing product equal autograd's, in float64."""
    from convattn_plugin.layers.fast_paths import gate_product_recomputed
    torch.manual_seed(0)
    x = torch.randn(2, 5, 3, 4, dtype=torch.float64, requires_grad=True)
    g = torch.rand(2, 5, 1, 1, dtype=torch.float64, requires_grad=True)
    s = torch.rand(2, 1, 3, 4, dtype=torch.float64, requires_grad=True)

    def ours(x, g, s):
        x1 = x * g
        return gate_product_recomputed(x1, s, x, g)

    assert torch.autograd.gradcheck(ours, (x, g, s))
    grads = torch.autograd.grad(ours(x, g, s).sin().sum(), (x, g, s))
    plain = torch.autograd.grad((x * g * s).sin().sum(), (x, g, s))
    torch.testing.assert_close(ours(x, g, s), x * g * s, rtol=0, atol=0)
    for a, b in zip(grads, plain):
        torch.testing.assert_close(a, b)


def test_cbam_training_path_gradcheck():
    """The whole CBAM in training (the recomputing path) against its formula, float64."""
    m = _randomise(CBAM(6, rd_channels=2)).double().train()
    m.spatial.bn.eval()       # fixed statistics: gradcheck perturbs single values
    x = torch.randn(2, 6, 3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(m, (x,))
    torch.testing.assert_close(m(x), ref_cbam(m, x))


def _saved_bytes(fn, *inputs) -> int:
    seen, total = set(), 0

    def pack(t):
        nonlocal total
        key = (t.untyped_storage().data_ptr(), t.dtype)
        if key not in seen:
            seen.add(key)
            total += t.untyped_storage().nbytes()
        return t
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(*inputs)
    return total


def test_cbam_keeps_one_feature_map_for_backward():
    """What CBAM keeps for backward: the input map (as SE does) and small gate tensors;
    the plain form keeps the channel-gated map too."""
    m = _randomise(CBAM(64)).train()
    x = torch.randn(4, 64, 16, 16, requires_grad=True)
    ours = _saved_bytes(m, x)
    plain = _saved_bytes(lambda t: ref_cbam(m, t), x)
    feature_map = x.numel() * x.element_size()
    assert feature_map <= ours < 1.25 * feature_map     # x, gates, max indices
    assert plain >= 2 * feature_map                     # x and x * channel gate
    se = _randomise(SqueezeExcite(64)).train()
    assert _saved_bytes(se, x) >= feature_map


def test_recomputing_path_only_in_eager_autograd():
    from convattn_plugin.layers.fast_paths import keeps_less_for_backward
    x = torch.randn(1, 4, 2, 2)
    assert not keeps_less_for_backward(x)                              # needs no gradient
    assert keeps_less_for_backward(x.requires_grad_(True))
    with torch.no_grad():
        assert not keeps_less_for_backward(x)
    graph = torch.fx.symbolic_trace(CBAM(4)).graph                      # FX records the plain form
    assert 'gate_product_recomputed' not in str(graph)
