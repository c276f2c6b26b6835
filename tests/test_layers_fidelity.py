"""Each paper/authors option against a small reference written here from the formula.

The references use only the module's weights (gathered by type, not by layer index) and
``torch.nn.functional``, and spell out each equation; BN layers run on random running
statistics in eval mode so that their placement matters.
"""
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from convattn_plugin.layers import accepted_options, create_attn, get_attn_info, list_attentions


def _randomise(module: nn.Module, seed: int = 0) -> nn.Module:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.3)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
    return module.eval()


def _bn(t, bn):
    return F.batch_norm(t, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)


def _of_type(module, cls):
    return [m for m in module.modules() if type(m) is cls or (cls is nn.BatchNorm2d and isinstance(m, cls))]


# ---- BAM ------------------------------------------------------------------------------

def _bam_reference(m, x, form):
    def branch(seq, t):
        convs, bns = _of_type(seq, nn.Conv2d), _of_type(seq, nn.BatchNorm2d)
        if form == 'paper':   # conv + ReLU between, one BN at the end
            assert len(bns) == 1
            for conv in convs[:-1]:
                t = F.relu(F.conv2d(t, conv.weight, conv.bias, padding=conv.padding, dilation=conv.dilation))
            return _bn(F.conv2d(t, convs[-1].weight, convs[-1].bias), bns[0])
        assert len(bns) == len(convs) - 1 and all(c.bias is not None for c in convs)
        for conv, bn in zip(convs[:-1], bns):  # official: conv + BN + ReLU, plain last conv
            t = F.relu(_bn(F.conv2d(t, conv.weight, conv.bias, padding=conv.padding, dilation=conv.dilation), bn))
        return F.conv2d(t, convs[-1].weight, convs[-1].bias)

    mc = branch(m.channel_branch, x.mean((2, 3), keepdim=True))
    ms = branch(m.spatial_branch, x)
    attn = torch.sigmoid(mc + ms) if form == 'paper' else torch.sigmoid(mc * ms)
    return x + x * attn


@pytest.mark.parametrize('form', ['paper', 'official'])
def test_bam_forms(form):
    m = _randomise(create_attn('bam', 32, form=form))
    x = torch.randn(2, 32, 9, 9)
    with torch.no_grad():
        torch.testing.assert_close(m(x), _bam_reference(m, x, form), rtol=1e-5, atol=1e-5)
    assert len(_of_type(m.spatial_branch, nn.Conv2d)) == 4  # 1x1, two dilated 3x3, 1x1


def test_bam_default_is_the_paper_and_forms_differ():
    assert create_attn('bam', 32).form == 'paper'
    x = torch.randn(2, 32, 9, 9)
    paper, official = _randomise(create_attn('bam', 32)), _randomise(create_attn('bam', 32, form='official'))
    with torch.no_grad():
        assert not torch.allclose(paper(x), official(x), atol=1e-3)


def test_bam_form_is_checked():
    with pytest.raises(ValueError, match=r"BottleneckAttention: form must be one of 'paper', 'official', got 'Paper'"):
        create_attn('bam', 32, form='Paper')


# ---- DANet channel attention -----------------------------------------------------------

@pytest.mark.parametrize('use_sdpa', [True, False])
@pytest.mark.parametrize('form', ['paper', 'official'])
def test_dualattn_channel_softmax(form, use_sdpa):
    m = _randomise(create_attn('dualattn', 16, form=form, use_sdpa=use_sdpa))
    with torch.no_grad():
        m.alpha.zero_()
        m.beta.fill_(1.0)
    x = torch.randn(2, 16, 5, 6) * 0.3
    a = x.flatten(2)
    energy = a @ a.transpose(1, 2)                                   # N, C, C
    if form == 'paper':
        attention = torch.softmax(energy, dim=-1)                    # Eq. 3
    else:
        attention = torch.softmax(energy.amax(-1, keepdim=True) - energy, dim=-1)  # the authors' code
    expected = x + (attention @ a).view_as(x)
    with torch.no_grad():
        torch.testing.assert_close(m(x), expected, rtol=1e-5, atol=1e-5)


# ---- Non-local --------------------------------------------------------------------------

@pytest.mark.parametrize('size', [(8, 6), (7, 5)], ids=str)
@pytest.mark.parametrize('sub_sample', [False, True])
@pytest.mark.parametrize('use_scale', [True, False])
def test_nonlocal_scale_and_sub_sampling(use_scale, sub_sample, size):
    m = _randomise(create_attn('nonlocal', 16, use_scale=use_scale, sub_sample=sub_sample))
    x = torch.randn(2, 16, *size)
    theta = F.conv2d(x, m.theta.weight, m.theta.bias).flatten(2)     # N, d, HW
    phi = F.conv2d(x, m.phi.weight, m.phi.bias)
    g = F.conv2d(x, m.g.weight, m.g.bias)
    if sub_sample:
        phi, g = F.max_pool2d(phi, 2), F.max_pool2d(g, 2)
    phi, g = phi.flatten(2), g.flatten(2)
    scores = theta.transpose(1, 2) @ phi                             # N, HW, HW'
    if use_scale:
        scores = scores / math.sqrt(theta.shape[1])
    y = (torch.softmax(scores, dim=-1) @ g.transpose(1, 2)).transpose(1, 2).reshape(2, -1, *size)
    expected = x + _bn(F.conv2d(y, m.out_conv.weight), m.out_norm)
    with torch.no_grad():
        torch.testing.assert_close(m(x), expected, rtol=1e-5, atol=1e-5)


def test_nonlocal_defaults():
    m = create_attn('nonlocal', 16)
    assert m.scale == pytest.approx(8 ** -0.5) and isinstance(m.pool, nn.Identity)


# ---- CBAM and triplet: what the authors' weights need ----------------------------------

def _spatial_reference(gate, t, order):
    pooled = [t.amax(1, keepdim=True), t.mean(1, keepdim=True)]
    if order == 'mean_max':
        pooled.reverse()
    conv = gate.conv
    return torch.sigmoid(_bn(F.conv2d(torch.cat(pooled, 1), conv.weight, padding=conv.padding), gate.bn))


def _cbam_reference(m, x, order):
    def mlp(p):
        return F.linear(F.relu(F.linear(p, m.fc1.weight.flatten(1), m.fc1.bias)), m.fc2.weight.flatten(1), m.fc2.bias)
    x1 = x * torch.sigmoid(mlp(x.mean((2, 3))) + mlp(x.amax((2, 3))))[:, :, None, None]
    return x1 * _spatial_reference(m.spatial, x1, order)


@pytest.mark.parametrize('mlp_bias', [False, True])
@pytest.mark.parametrize('order', ['mean_max', 'max_mean'])
def test_cbam_options(order, mlp_bias):
    m = _randomise(create_attn('cbam', 32, pool_order=order, mlp_bias=mlp_bias, bn_eps=1e-3))
    assert (m.fc1.bias is not None) == mlp_bias and (m.fc2.bias is not None) == mlp_bias
    assert m.spatial.bn.eps == 1e-3
    with torch.no_grad():
        m.spatial.bn.running_var.fill_(2e-3)   # eps now weighs as much as the variance
    x = torch.randn(2, 32, 6, 7)
    with torch.no_grad():
        torch.testing.assert_close(m(x), _cbam_reference(m, x, order), rtol=1e-5, atol=1e-5)


def test_cbam_defaults_follow_the_paper():
    m = create_attn('cbam', 32)
    assert m.fc1.bias is None and m.spatial.pool_order == 'mean_max'
    assert m.spatial.bn.momentum == 0.1 and m.spatial.bn.eps == 1e-5


def _triplet_reference(m, x, order):
    def branch(gate, t):
        return t * _spatial_reference(gate, t, order)
    out_cw = branch(m.gate_cw, x.permute(0, 2, 1, 3)).permute(0, 2, 1, 3)
    out_hc = branch(m.gate_hc, x.permute(0, 3, 2, 1)).permute(0, 3, 2, 1)
    return (branch(m.gate_hw, x) + out_cw + out_hc) / 3


@pytest.mark.parametrize('order', ['max_mean', 'mean_max'])
def test_triplet_pool_order(order):
    m = _randomise(create_attn('triplet', 8, pool_order=order))
    x = torch.randn(2, 8, 6, 5)
    with torch.no_grad():
        torch.testing.assert_close(m(x), _triplet_reference(m, x, order), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('channels, kernel_size', [(40, None), (6, 1), (12, 5), (6, 9)], ids=str)
@pytest.mark.parametrize('layout', ['contiguous', 'channels_last'])
def test_eca_training_path_matches_autograd(layout, channels, kernel_size):
    # In eager training ECA runs a custom backward (one pass for the gradient through the
    # gate and through the mean; on the CPU the 1-D convolution's gradients as shifted
    # multiply-adds); it must equal autograd's on the plain form, also for a kernel longer
    # than the channels (9 > 6).
    m = _randomise(create_attn('eca', channels, kernel_size=kernel_size)).double()
    assert m.conv.weight.shape[-1] == (kernel_size or 3)
    x = torch.randn(2, channels, 5, 7, dtype=torch.float64)
    if layout == 'channels_last':
        x = x.contiguous(memory_format=torch.channels_last)
    assert torch.autograd.gradcheck(lambda t, w: m(t), (x.clone().requires_grad_(), m.conv.weight))
    x_ref = x.clone().requires_grad_()
    x = x.requires_grad_()
    seen = []                                   # hooks on the submodules fire on this path too
    handles = [sub.register_forward_hook(lambda mod, args, o: seen.append(o)) for sub in (m.conv, m.gate)]
    out = m(x)
    for h in handles:
        h.remove()
    ref = x_ref * m.channel_gate(x_ref)
    assert out.grad_fn is not None and 'EcaProduct' in type(out.grad_fn).__name__
    assert len(seen) == 2 and seen[0].shape == (2, 1, channels)
    torch.testing.assert_close(seen[1].view(2, channels, 1, 1), m.channel_gate(x_ref))
    assert out.is_contiguous(memory_format=torch.channels_last) == (layout == 'channels_last')
    weight = torch.randn_like(ref)
    got = torch.autograd.grad((out * weight).sum(), [x, m.conv.weight])
    want = torch.autograd.grad((ref * weight).sum(), [x_ref, m.conv.weight])
    torch.testing.assert_close(out, ref)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize('layout', ['contiguous', 'channels_last'])
def test_triplet_gradients_match_the_rotating_form(layout):
    # The module gates x once with the sum of the three (back-rotated) gates; the paper
    # gates three rotations of x. Same values and gradients, in float64 and in eval BN.
    m = _randomise(create_attn('triplet', 6)).double()
    x = torch.randn(2, 6, 5, 7, dtype=torch.float64)
    if layout == 'channels_last':
        x = x.contiguous(memory_format=torch.channels_last)
    x_ref = x.detach().clone().requires_grad_()
    x = x.requires_grad_()
    out, ref = m(x), _triplet_reference(m, x_ref, 'max_mean')
    weight = torch.randn_like(ref)
    params = list(m.parameters())
    grads = torch.autograd.grad((out * weight).sum(), [x] + params)
    grads_ref = torch.autograd.grad((ref * weight).sum(), [x_ref] + params)
    torch.testing.assert_close(out, ref)
    for got, want in zip(grads, grads_ref):
        torch.testing.assert_close(got, want)


def test_triplet_default_is_the_papers_z_pool():
    m = create_attn("triplet", 8)
    assert {g.pool_order for g in (m.gate_cw, m.gate_hc, m.gate_hw)} == {"max_mean"}


@pytest.mark.parametrize('kind', ['cbam', 'triplet'])
def test_bn_momentum_of_the_spatial_gates(kind):
    m = create_attn(kind, 8, bn_momentum=0.01)
    gate = m.spatial if kind == 'cbam' else m.gate_hw
    assert gate.bn.momentum == 0.01
    m.train()
    x = torch.randn(4, 8, 6, 6)
    with torch.no_grad():
        if kind == 'cbam':
            m.fc2.weight.zero_()                  # channel gate 0.5 everywhere: its input is x / 2
            t = x * 0.5
        else:
            t = x
        pooled = [t.amax(1, keepdim=True), t.mean(1, keepdim=True)]
        if gate.pool_order == 'mean_max':
            pooled.reverse()
        conv_out = F.conv2d(torch.cat(pooled, 1), gate.conv.weight, padding=gate.conv.padding)
        m(x)
    # Running mean starts at 0: one step moves it by momentum * batch mean.
    torch.testing.assert_close(gate.bn.running_mean, 0.01 * conv_out.mean().reshape(1), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize('kind,option,value,match', [
    ('cbam', 'pool_order', 'avg_max', r"CBAM: pool_order must be one of 'mean_max', 'max_mean', got 'avg_max'"),
    ('triplet', 'bn_momentum', 1.5, r'TripletAttention: bn_momentum must be a finite number >= 0\.0 and <= 1\.0'),
    ('cbam', 'bn_eps', 0, r'CBAM: bn_eps must be a finite number > 0\.0 and <= 1\.0, got 0'),
    ('nonlocal', 'use_scale', 1, r'NonLocal2d: use_scale must be True or False, got 1'),
    ('dualattn', 'form', 'authors', r"DualAttention: form must be one of 'paper', 'official', got 'authors'"),
    ('se', 'rd_rounding', 'ceil', r"SqueezeExcite: rd_rounding must be one of 'round', 'floor', got 'ceil'"),
])
def test_fidelity_options_are_checked(kind, option, value, match):
    with pytest.raises(ValueError, match=match):
        create_attn(kind, 16, **{option: value})


# ---- ECA, SimAM -------------------------------------------------------------------------

@pytest.mark.parametrize('channels,k', [(64, 3), (128, 5), (256, 5), (512, 5), (1024, 5), (2048, 7)])
def test_eca_adaptive_kernel_size(channels, k):
    assert create_attn('eca', channels).conv.kernel_size == (k,)


@pytest.mark.parametrize('k', [3, 5, 7])
def test_eca_fixed_kernel_size(k):
    m = _randomise(create_attn('eca', 64, kernel_size=k))
    assert m.conv.weight.shape == (1, 1, k) and m.conv.bias is None
    x = torch.randn(2, 64, 5, 5)
    y = F.conv1d(x.mean((2, 3))[:, None, :], m.conv.weight, padding=(k - 1) // 2)
    with torch.no_grad():
        torch.testing.assert_close(m(x), x * torch.sigmoid(y)[:, 0, :, None, None], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('e_lambda', [1e-4, 0.1])
def test_simam_energy(e_lambda):
    m = create_attn('simam', 8, e_lambda=e_lambda)
    x = torch.randn(2, 8, 6, 5)
    n = 6 * 5 - 1
    mu = x.mean((2, 3), keepdim=True)
    var = ((x - mu) ** 2).sum((2, 3), keepdim=True) / n
    inverse_energy = (x - mu) ** 2 / (4 * (var + e_lambda)) + 0.5
    torch.testing.assert_close(m(x), x * torch.sigmoid(inverse_energy), rtol=1e-5, atol=1e-6)
    assert create_attn('simam', 8).e_lambda == 1e-4


# ---- widths -------------------------------------------------------------------------------

RD_KINDS = [k for k in list_attentions() if 'rd_rounding' in accepted_options(get_attn_info(k).cls)]


def test_every_kind_with_a_bottleneck_offers_the_rounding():
    assert set(RD_KINDS) == {k for k in list_attentions() if 'rd_ratio' in accepted_options(get_attn_info(k).cls)}


@pytest.mark.parametrize('kind', RD_KINDS)
def test_width_rounding(kind):
    # 56 / 16 = 3.5: nearest gives 4, the authors' floor gives 3.
    extra = {'min_rd_channels': 1} if kind == 'coord' else {}

    def widths(rounding):
        m = create_attn(kind, 56, rd_ratio=1 / 16, rd_rounding=rounding, **extra)
        return {c.out_channels for c in m.modules() if isinstance(c, nn.Conv2d)}
    assert 4 in widths('round') and 3 not in widths('round')
    assert 3 in widths('floor') and 4 not in widths('floor')


def _grad_fn_names(out):
    seen, todo = {}, [out.grad_fn]
    while todo:
        fn = todo.pop()
        if fn is not None and id(fn) not in seen:
            seen[id(fn)] = type(fn).__name__
            todo.extend(f for f, _ in fn.next_functions)
    return set(seen.values())


def _gc_reference(m, x):
    # GCNet, Eq. 2 / Fig. 4: context = sum_j softmax_j(W_k x_j) x_j, out = x + transform(context).
    n, c, h, w = x.shape
    conv = m.conv_attn
    logits = (x * conv.weight.view(1, c, 1, 1)).sum(1).flatten(1) + conv.bias
    context = (x.flatten(2) * torch.softmax(logits, -1).unsqueeze(1)).sum(-1)
    return x + m.transform(context.view(n, c, 1, 1))


@pytest.mark.parametrize('layout', ['contiguous', 'channels_last'])
def test_gc_training_path_matches_the_formula(layout):
    # In eager training GC's attention pooling runs a custom backward (x's two gradients
    # written by one batched product); values and gradients must equal the formula's.
    m = _randomise(create_attn('gc', 12, rd_ratio=1 / 4)).double().train()
    x = torch.randn(2, 12, 5, 7, dtype=torch.float64)
    if layout == 'channels_last':
        x = x.contiguous(memory_format=torch.channels_last)
    params = [m.conv_attn.weight, m.conv_attn.bias, m.transform[0].weight]
    assert torch.autograd.gradcheck(lambda t, *p: m(t), (x.clone().requires_grad_(), *params))
    x_ref = x.clone().requires_grad_()
    x = x.requires_grad_()
    seen = []                                   # hooks on conv_attn fire on this path too
    handle = m.conv_attn.register_forward_hook(lambda mod, args, o: seen.append(o))
    out = m(x)
    handle.remove()
    ref = _gc_reference(m, x_ref)
    assert any('AttentionPooling' in name for name in _grad_fn_names(out))
    assert len(seen) == 1
    torch.testing.assert_close(seen[0], F.conv2d(x, m.conv_attn.weight, m.conv_attn.bias))
    weight = torch.randn_like(ref)
    got = torch.autograd.grad((out * weight).sum(), [x, *params])
    want = torch.autograd.grad((ref * weight).sum(), [x_ref, *params])
    torch.testing.assert_close(out, ref)
    assert got[0].is_contiguous(memory_format=torch.channels_last) == (layout == 'channels_last')
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b)
    with torch.no_grad():                       # inference takes the plain path
        torch.testing.assert_close(m(x), _gc_reference(m, x))


@pytest.mark.parametrize('bias', [True, False])
@pytest.mark.parametrize('layout', ['contiguous', 'channels_last'])
def test_gc_pointwise_conv_is_the_convolution(layout, bias):
    # GC's conv_attn runs as a batched product; it must be nn.Conv2d(C, 1, 1) in values,
    # gradients, parameters and state-dict keys (published GC weights load into it).
    from convattn_plugin.layers.fast_paths import PointwiseConvToOne
    torch.manual_seed(0)
    conv = PointwiseConvToOne(12, bias=bias).double()
    ref = nn.Conv2d(12, 1, 1, bias=bias).double()
    assert conv.state_dict().keys() == ref.state_dict().keys()
    ref.load_state_dict(conv.state_dict())
    x = torch.randn(3, 12, 5, 7, dtype=torch.float64)
    if layout == 'channels_last':
        x = x.contiguous(memory_format=torch.channels_last)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    out, want = conv(x1), ref(x2)
    torch.testing.assert_close(out, want)
    weight = torch.randn_like(want)
    for a, b in zip(torch.autograd.grad((out * weight).sum(), [x1, *conv.parameters()]),
                    torch.autograd.grad((want * weight).sum(), [x2, *ref.parameters()])):
        torch.testing.assert_close(a, b)
