"""The issue-20 kinds against references written from their authors' code.

Each reference (``tests/published_reference/attention_modules.py``) has the authors' parameter
names and forward. Its random weights are copied into our module by an explicit key map (so a
state dict of theirs would load the same way), and forward, the input's gradient and every
parameter's gradient are compared in train and eval mode, to 1e-5.
"""
from __future__ import annotations

import math
from typing import Callable

import pytest
import torch
import torch.nn as nn

from convattn_plugin.layers import create_attn
from published_reference import attention_modules as ref

TOL = dict(rtol=1e-5, atol=1e-5)


def _randomise(module: nn.Module, seed: int = 0) -> nn.Module:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
        for m in module.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.3)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
    return module


def _copy_weights(authors: nn.Module, ours: nn.Module, key_map: dict[str, str]) -> None:
    """Load the authors' state dict into ours through ``key_map`` (ours -> theirs), strictly."""
    theirs = authors.state_dict()
    assert set(key_map.values()) == set(theirs), 'the key map must use every key of the authors\' module'
    own = ours.state_dict()
    ours.load_state_dict({k: theirs[v].reshape(own[k].shape) for k, v in key_map.items()}, strict=True)


def _compare(authors: nn.Module, ours: nn.Module, key_map: dict[str, str], shape, training: bool) -> None:
    # float64: the comparison is of the two computations, not of float32 rounding, which differs
    # between CPUs (a train-mode BN backward over 18k elements drifts by ~4e-5 on some)
    authors.double().train(training)
    ours.double().train(training)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(shape, generator=gen, dtype=torch.float64)
    weight = torch.randn(shape, generator=gen, dtype=torch.float64)
    results = []
    for module in (authors, ours):
        xi = x.clone().requires_grad_(True)
        out = module(xi)
        (out * weight).sum().backward()
        results.append((out.detach(), xi.grad, {k: p.grad for k, p in module.named_parameters()}))
    (out_a, gx_a, grads_a), (out_o, gx_o, grads_o) = results
    torch.testing.assert_close(out_o, out_a, **TOL)
    torch.testing.assert_close(gx_o, gx_a, **TOL)
    for k, v in key_map.items():
        if k in grads_o:
            torch.testing.assert_close(grads_o[k], grads_a[v].reshape(grads_o[k].shape), **TOL, msg=f'gradient of {k}')
    own_buffers = dict(ours.named_buffers())
    for k, v in authors.named_buffers():  # running statistics after a training step
        ours_key = next(o for o, a in key_map.items() if a == k)
        torch.testing.assert_close(own_buffers[ours_key].to(v.dtype), v, **TOL, msg=f'buffer {ours_key}')


def _check(kind: str, channels: int, build_authors: Callable[[nn.Module], nn.Module], key_map: dict[str, str],
           size=(7, 5), **options) -> None:
    for training in (True, False):
        torch.manual_seed(0)
        ours = create_attn(kind, channels, **options)
        authors = _randomise(build_authors(ours))
        _copy_weights(authors, ours, key_map)
        _compare(authors, ours, key_map, (2, channels, *size), training)


# ---- scSE ---------------------------------------------------------------------------------

SCSE_KEYS = {'fc1.weight': 'cSE.fc1.weight', 'fc1.bias': 'cSE.fc1.bias', 'fc2.weight': 'cSE.fc2.weight',
             'fc2.bias': 'cSE.fc2.bias', 'spatial.weight': 'sSE.conv.weight', 'spatial.bias': 'sSE.conv.bias'}


@pytest.mark.parametrize('channels', [64, 256])
def test_scse_matches_the_authors(channels):
    _check('scse', channels, lambda m: ref.ChannelSpatialSELayer(channels, 2), SCSE_KEYS)


def test_scse_add_is_the_sum_of_the_authors_branches():
    torch.manual_seed(0)
    ours = create_attn('scse', 32, combine='add')
    authors = _randomise(ref.ChannelSpatialSELayer(32, 2))
    _copy_weights(authors, ours, SCSE_KEYS)
    x = torch.randn(2, 32, 6, 5)
    torch.testing.assert_close(ours(x), authors.cSE(x) + authors.sSE(x), **TOL)


def test_scse_options_are_checked():
    with pytest.raises(ValueError, match=r"ChannelSpatialSE: combine must be one of 'max', 'add', got 'mul'"):
        create_attn('scse', 16, combine='mul')


# ---- SGE ----------------------------------------------------------------------------------

SGE_KEYS = {'weight': 'weight', 'bias': 'bias'}


@pytest.mark.parametrize('channels', [64, 256])   # 1 and 4 channels per group
def test_sge_matches_the_authors(channels):
    module = create_attn('sge', channels)
    assert module.groups == 64
    _check('sge', channels, lambda m: ref.SpatialGroupEnhance(m.groups), SGE_KEYS)


def test_sge_explicit_groups_match_the_authors():
    _check('sge', 96, lambda m: ref.SpatialGroupEnhance(8), SGE_KEYS, groups=8)


@pytest.mark.filterwarnings("ignore:.*degrees of freedom is:UserWarning")
def test_sge_on_a_1x1_map_is_finite_where_the_authors_divide_by_zero():
    ours = _randomise(create_attn('sge', 64))
    authors = ref.SpatialGroupEnhance(64)
    _copy_weights(authors, ours, SGE_KEYS)
    x = torch.randn(2, 64, 1, 1)
    assert torch.isnan(authors(x)).all()   # unbiased std of one value: 0 / 0
    # The centred similarity is 0: the gate is sigmoid(beta) per group.
    torch.testing.assert_close(ours(x), x * torch.sigmoid(ours.bias).view(1, 64, 1, 1))


@pytest.mark.parametrize('channels,groups,expected', [(256, None, 64), (96, None, 48), (3, None, 3), (7, None, 7),
                                                      (96, 8, 8)])
def test_sge_groups(channels, groups, expected):
    assert create_attn('sge', channels, groups=groups).groups == expected


@pytest.mark.parametrize('value,match', [
    (5, r'SpatialGroupEnhance: channels \(64\) must be divisible by groups \(5\); pass groups=None'),
    (0, r'SpatialGroupEnhance: groups must be an int from 1 to 64, got 0'),
    (128, r'SpatialGroupEnhance: groups must be an int from 1 to 64, got 128'),
    (2.0, r'SpatialGroupEnhance: groups must be an int from 1 to 64, got 2.0'),
])
def test_sge_groups_are_checked(value, match):
    with pytest.raises(ValueError, match=match):
        create_attn('sge', 64, groups=value)


# ---- Shuffle Attention ----------------------------------------------------------------------

SA_KEYS = {k: k for k in ['cweight', 'cbias', 'sweight', 'sbias', 'gn.weight', 'gn.bias']}


@pytest.mark.parametrize('channels,groups', [(256, 64), (64, 32), (512, 64)])
def test_shuffle_matches_the_authors(channels, groups):
    module = create_attn('shuffle', channels)
    assert module.groups == groups   # the authors' 64 where C is a multiple of 128
    _check('shuffle', channels, lambda m: ref.sa_layer(channels, m.groups), SA_KEYS)


def test_shuffle_explicit_groups_match_the_authors():
    _check('shuffle', 96, lambda m: ref.sa_layer(96, 4), SA_KEYS, groups=4)


def test_shuffle_odd_channels_interleave_unequal_halves():
    module = _randomise(create_attn('shuffle', 5)).eval()
    assert module.groups == 1 and module.split == [3, 2]
    x = torch.randn(2, 5, 4, 3)
    xn = x[:, :3] * torch.sigmoid(module.cweight * x[:, :3].mean((2, 3), keepdim=True) + module.cbias)
    xs = x[:, 3:] * torch.sigmoid(module.sweight * module.gn(x[:, 3:]) + module.sbias)
    halves = torch.cat([xn, xs], 1)
    expected = halves[:, [0, 3, 1, 4, 2]]   # [a0, b0, a1, b1, a2]
    torch.testing.assert_close(module(x), expected, **TOL)


def test_shuffle_groups_are_checked():
    with pytest.raises(ValueError, match=r'ShuffleAttention: channels \(96\) must be divisible by '
                                         r'2 \* groups \(10\); pass groups=None'):
        create_attn('shuffle', 96, groups=5)
    with pytest.raises(ValueError, match=r'ShuffleAttention: channels \(7\) must be divisible by 2 \* groups \(2\)'):
        create_attn('shuffle', 7, groups=1)


# ---- EMA ----------------------------------------------------------------------------------

EMA_KEYS = {k: k for k in ['gn.weight', 'gn.bias', 'conv1x1.weight', 'conv1x1.bias', 'conv3x3.weight',
                           'conv3x3.bias']}


@pytest.mark.parametrize('channels', [64, 256])
def test_ema_matches_the_authors(channels):
    assert create_attn('ema', channels).groups == 32
    _check('ema', channels, lambda m: ref.EmaModule(channels, m.groups), EMA_KEYS)


def test_ema_explicit_groups_match_the_authors():
    _check('ema', 48, lambda m: ref.EmaModule(48, 4), EMA_KEYS, groups=4, size=(6, 9))


def test_ema_groups_are_checked():
    assert create_attn('ema', 48).groups == 24
    with pytest.raises(ValueError, match=r'EfficientMultiScaleAttention: channels \(48\) must be divisible by '
                                         r'groups \(5\); pass groups=None'):
        create_attn('ema', 48, groups=5)


# ---- FcaNet -------------------------------------------------------------------------------

FCA_KEYS = {'dct_layer.weight': 'dct_layer.weight', 'fc1.weight': 'fc.0.weight', 'fc2.weight': 'fc.2.weight'}


@pytest.mark.parametrize('channels,dct_size,size', [(64, 14, (14, 14)), (256, 7, (7, 7)), (128, 7, (9, 5)),
                                                    (64, 28, (6, 6))], ids=str)
def test_fca_matches_the_authors(channels, dct_size, size):
    """At the DCT size (no pooling) and at others (adaptive pooling, down and up), as the authors."""
    _check('fca', channels, lambda m: ref.MultiSpectralAttentionLayer(channels, dct_size, dct_size), FCA_KEYS,
           size=size, dct_size=dct_size)


@pytest.mark.parametrize('dct_size', [7, 14, 56])
def test_fca_dct_filters_are_the_authors(dct_size):
    ours = create_attn('fca', 64, dct_size=dct_size)
    authors = ref.MultiSpectralAttentionLayer(64, dct_size, dct_size)
    torch.testing.assert_close(ours.dct_layer.weight, authors.dct_layer.weight, rtol=0, atol=1e-7)
    # Orthonormal basis: the frequency-(0, 0) filter is the mean times sqrt(H*W).
    torch.testing.assert_close(ours.dct_layer.weight[0], torch.full((dct_size, dct_size), 1 / dct_size))


def test_fca_checkpoint_of_another_dct_size_does_not_load():
    source = create_attn('fca', 64, dct_size=14).state_dict()
    with pytest.raises(RuntimeError, match=r'dct_layer\.weight: copying a param with shape'):
        create_attn('fca', 64).load_state_dict(source)


@pytest.mark.parametrize('channels,num_freq', [(64, 16), (24, 8), (3, 1), (20, 4)])
def test_fca_number_of_frequencies(channels, num_freq):
    assert create_attn('fca', channels).num_freq == num_freq


@pytest.mark.parametrize('option,value,match', [
    ('num_freq', 5, r'channels \(64\) must be divisible by num_freq \(5\); pass num_freq=None'),
    ('num_freq', 33, r'num_freq must be an int from 1 to 32, got 33'),
    ('dct_size', 4, r'dct_size must be an int from 7 to 512, got 4'),
    ('freq_sel', 'mid', r"freq_sel must be one of 'top', 'low', 'bot', got 'mid'"),
])
def test_fca_options_are_checked(option, value, match):
    with pytest.raises(ValueError, match='FrequencyChannelAttention: ' + match):
        create_attn('fca', 64, **{option: value})


# ---- Polarized Self-Attention ---------------------------------------------------------------

PSA_COMMON = {k: k for k in ['conv_q_right.weight', 'conv_v_right.weight', 'conv_q_left.weight',
                             'conv_v_left.weight']}
PSA_KEYS = {
    'parallel': {**PSA_COMMON, 'conv_up.weight': 'conv_up.weight'},
    'sequential': {**PSA_COMMON, **{k: k for k in ['conv_up.0.weight', 'conv_up.0.bias', 'conv_up.1.weight',
                                                   'conv_up.1.bias', 'conv_up.3.weight', 'conv_up.3.bias']}},
}


@pytest.mark.parametrize('channels', [64, 256])
@pytest.mark.parametrize('form,authors', [('parallel', ref.PSA_p), ('sequential', ref.PSA_s)])
def test_psa_matches_the_authors(form, authors, channels):
    _check('psa', channels, lambda m: authors(channels, channels), PSA_KEYS[form], form=form)


def test_psa_default_is_the_authors_released_form():
    module = create_attn('psa', 64)
    assert (module.form, module.variant) == ('sequential', 'official')


@pytest.mark.parametrize('form', ['parallel', 'sequential'])
def test_psa_paper_variant_follows_the_equations(form):
    m = _randomise(create_attn('psa', 32, form=form, variant='paper')).eval()
    x = torch.randn(2, 32, 6, 5)

    def conv(layer, t):
        return torch.nn.functional.conv2d(t, layer.weight)

    def channel_gate(t):   # Eq. 2: sigmoid(LN(W_z(sigma1(W_v x) x softmax(sigma2(W_q x)))))
        v = conv(m.conv_v_right, t).flatten(2)
        q = torch.softmax(conv(m.conv_q_right, t).flatten(2), -1)
        z = conv(m.conv_up, (v * q).sum(-1)[..., None, None])
        return torch.sigmoid(torch.nn.functional.layer_norm(z, z.shape[1:], m.ln.weight, m.ln.bias))

    def spatial_gate(t):   # Eq. 4: sigmoid(softmax(GAP(W_q x)) x W_v x), softmax over channels
        q = torch.softmax(conv(m.conv_q_left, t).mean((2, 3)), -1)
        v = conv(m.conv_v_left, t)
        return torch.sigmoid((q[..., None, None] * v).sum(1, keepdim=True))

    a = x * channel_gate(x)
    expected = a + x * spatial_gate(x) if form == 'parallel' else a * spatial_gate(a)
    torch.testing.assert_close(m(x), expected, **TOL)


def test_psa_options_are_checked():
    with pytest.raises(ValueError, match=r"PolarizedSelfAttention: form must be one of 'sequential', 'parallel', "
                                         r"got 'serial'"):
        create_attn('psa', 16, form='serial')
    with pytest.raises(ValueError, match=r"PolarizedSelfAttention: variant must be one of 'official', 'paper'"):
        create_attn('psa', 16, variant='code')


# ---- Selective Kernel -----------------------------------------------------------------------

def _bn_keys(ours: str, theirs: str) -> dict[str, str]:
    return {f'{ours}.{k}': f'{theirs}.{k}' for k in ['weight', 'bias', 'running_mean', 'running_var',
                                                      'num_batches_tracked']}


SK_CAFFE_KEYS = {
    'paths.0.conv.weight': 'conv_3x3g32.weight', **_bn_keys('paths.0.bn', 'conv_3x3g32_bn'),
    'paths.1.conv.weight': 'conv_3x3g32d2.weight', **_bn_keys('paths.1.bn', 'conv_3x3g32d2_bn'),
    'attn.fc_reduce.weight': 'B_fc1.weight', **_bn_keys('attn.bn', 'B_fc1_bn'), 'attn.fc_select.weight': 'B_fc2.weight',
}
SK_TIMM_KEYS = {k: k for k in ['paths.0.conv.weight', 'paths.1.conv.weight', 'attn.fc_reduce.weight',
                               'attn.fc_select.weight']}
SK_TIMM_KEYS.update({**_bn_keys('paths.0.bn', 'paths.0.bn'), **_bn_keys('paths.1.bn', 'paths.1.bn'),
                     **_bn_keys('attn.bn', 'attn.bn')})


@pytest.mark.parametrize('channels', [128, 256])
def test_sk_matches_the_authors_sknet_unit(channels):
    module = create_attn('sk', channels)
    assert module.groups == 32 and module.attn.fc_reduce.out_channels == max(channels // 16, 32)
    _check('sk', channels, lambda m: ref.SKUnitCaffe(channels), SK_CAFFE_KEYS)


@pytest.mark.parametrize('split_input', [True, False])
@pytest.mark.parametrize('channels,groups', [(64, 1), (256, 32)])
def test_sk_matches_timms_selective_kernel(channels, groups, split_input):
    from timm.layers.selective_kernel import SelectiveKernel as TimmSK
    rd = max(8, channels // 16)
    _check('sk', channels, lambda m: TimmSK(channels, channels, groups=groups, split_input=split_input, rd_channels=rd),
           SK_TIMM_KEYS, groups=groups, split_input=split_input, rd_channels=rd)


@pytest.mark.parametrize('kwargs,match', [
    (dict(dilations=(1,)), r'dilations must be a sequence of 2 to 4 ints'),
    (dict(dilations=(1, 0)), r'dilations must be an int from 1 to 32, got 0'),
    (dict(groups=5), r'channels \(64\) must be divisible by groups \(5\)'),
    (dict(split_input=True, groups=64), r'groups must be an int from 1 to 32, got 64'),
    (dict(reduction=0), r'reduction must be an int from 1 to 1024, got 0'),
])
def test_sk_options_are_checked(kwargs, match):
    with pytest.raises(ValueError, match='SelectiveKernel: ' + match):
        create_attn('sk', 64, **kwargs)
    with pytest.raises(ValueError, match=r'SelectiveKernel: split_input needs channels \(9\) divisible by the number'):
        create_attn('sk', 9, split_input=True)


# ---- GAM (no authors' code: a reference from the paper) --------------------------------------

GAM_KEYS = {'fc1.weight': 'channel_attention.0.weight', 'fc1.bias': 'channel_attention.0.bias',
            'fc2.weight': 'channel_attention.2.weight', 'fc2.bias': 'channel_attention.2.bias',
            'conv1.weight': 'spatial_attention.0.weight', **_bn_keys('bn1', 'spatial_attention.1'),
            'conv2.weight': 'spatial_attention.3.weight', **_bn_keys('bn2', 'spatial_attention.4')}


@pytest.mark.parametrize('channels,groups', [(64, 1), (256, 4), (256, 1)])
def test_gam_matches_the_paper(channels, groups):
    assert create_attn('gam', channels).groups == max(1, channels // 64)
    _check('gam', channels, lambda m: ref.GAMFromPaper(channels, 4, groups), GAM_KEYS, groups=groups)


@pytest.mark.parametrize('kwargs,match', [
    (dict(groups=3), r'groups \(3\) must divide both channels \(64\) and the reduced width \(16\)'),
    (dict(groups=32), r'groups \(32\) must divide both channels \(64\) and the reduced width \(16\)'),
    (dict(kernel_size=4), r'kernel_size must be a positive odd int \(at most 63\), got 4'),
])
def test_gam_options_are_checked(kwargs, match):
    with pytest.raises(ValueError, match='GlobalAttentionMechanism: ' + match):
        create_attn('gam', 64, **kwargs)


# ---- non-default options under FX, TorchScript and export -----------------------------------
# (the registry-parametrized tests in test_layers_tracing.py build each kind with its defaults)

OPTION_CASES = [
    ('scse', dict(combine='add')), ('sge', dict(groups=4)), ('shuffle', dict(groups=2)), ('shuffle', {}),
    ('ema', dict(groups=2)), ('fca', dict(dct_size=14, freq_sel='low')), ('psa', dict(form='parallel')),
    ('psa', dict(variant='paper')), ('psa', dict(form='parallel', variant='paper')),
    ('sk', dict(split_input=True, groups=1)), ('sk', dict(dilations=(1, 2, 3))), ('gam', dict(groups=1)),
]


@pytest.mark.filterwarnings('ignore:`torch.jit.script` is deprecated:FutureWarning')
@pytest.mark.parametrize('kind,options', OPTION_CASES, ids=lambda v: str(v) if isinstance(v, dict) else v)
def test_options_trace_script_and_export(kind, options):
    import copy
    import warnings
    from torch.export import Dim, export

    channels = 15 if (kind, options) == ('shuffle', {}) else 16   # odd C: the unequal-halves shuffle
    torch.manual_seed(0)
    module = _randomise(create_attn(kind, channels, **options)).eval()
    x = torch.randn(2, channels, 9, 7)
    with torch.no_grad():
        expected = module(x)
        torch.testing.assert_close(torch.fx.symbolic_trace(copy.deepcopy(module))(x), expected, **TOL)
        torch.testing.assert_close(torch.jit.script(copy.deepcopy(module))(x), expected, **TOL)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            dims = {2: Dim('height', min=2, max=64), 3: Dim('width', min=2, max=64)}
            exported = export(copy.deepcopy(module), (x,), dynamic_shapes={'x': dims}).module()
        y = torch.randn(2, channels, 12, 5)
        torch.testing.assert_close(exported(y), module(y), **TOL)
