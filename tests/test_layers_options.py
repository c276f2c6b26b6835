"""Bad constructor options: each is refused when the module is built, naming the argument,
the value and what is accepted, before anything large is allocated."""
import pytest
import torch.nn as nn

from convattn_plugin.layers import accepted_options, create_attn, get_attn_info, list_attentions, register_attention

KINDS = list_attentions()
RD_KINDS = [k for k in KINDS if 'rd_ratio' in accepted_options(get_attn_info(k).cls)]
KERNEL_KINDS = [k for k in KINDS if 'kernel_size' in accepted_options(get_attn_info(k).cls)]


def test_the_option_lists_cover_the_kinds_they_should():
    assert {'se', 'cbam', 'gc', 'coord', 'bam', 'localattn', 'selfattn', 'dualattn', 'nonlocal'} <= set(RD_KINDS)
    assert {'cbam', 'eca', 'triplet'} <= set(KERNEL_KINDS)


@pytest.mark.parametrize('kind', RD_KINDS)
@pytest.mark.parametrize('value', [True, False, 0, -0.5, 1.5, 1e9, float('nan'), float('inf'), '1/16'])
def test_rd_ratio_must_be_a_number_in_0_1(kind, value):
    with pytest.raises(ValueError, match=rf': rd_ratio must be a finite number > 0\.0 and <= 1\.0, got {value!r}'):
        create_attn(kind, 32, rd_ratio=value)


@pytest.mark.parametrize('kind', RD_KINDS)
@pytest.mark.parametrize('value', [True, 0, -3, 33, 10 ** 9, 2.0])
def test_rd_channels_must_fit_the_input(kind, value):
    widest = 32
    with pytest.raises(ValueError, match=rf': rd_channels must be an int from 1 to {widest}, got {value!r}'):
        create_attn(kind, 32, rd_channels=value)


def test_rd_channels_bound_is_the_paper_floor_where_that_is_wider():
    # Coordinate attention keeps at least 8 channels, so for 4 input channels 8 is still accepted.
    assert create_attn('coord', 4, rd_channels=8).conv1.out_channels == 8
    with pytest.raises(ValueError, match=r'CoordAttention: rd_channels must be an int from 1 to 8, got 9'):
        create_attn('coord', 4, rd_channels=9)
    with pytest.raises(ValueError, match=r'CoordAttention: min_rd_channels must be an int from 1 to 32, got 1000'):
        create_attn('coord', 32, min_rd_channels=1000)


def test_full_width_is_accepted():
    assert create_attn('se', 32, rd_ratio=1.0).fc1.out_channels == 32
    assert create_attn('se', 32, rd_channels=32).fc1.out_channels == 32


@pytest.mark.parametrize('kind', KERNEL_KINDS)
@pytest.mark.parametrize('value', [True, 0, 4, -7, 65, 7001, 7.0])
def test_kernel_size_must_be_a_small_odd_int(kind, value):
    with pytest.raises(ValueError, match=rf': kernel_size must be a positive odd int \(at most 63\), got {value!r}'):
        create_attn(kind, 32, kernel_size=value)


@pytest.mark.parametrize('value', [-1, True, 9, 2.0])
def test_bam_num_dilated_convs(value):
    with pytest.raises(ValueError, match=rf'BottleneckAttention: num_dilated_convs must be an int from 0 to 8, '
                                         rf'got {value!r}'):
        create_attn('bam', 32, num_dilated_convs=value)


def test_bam_without_dilated_convs_is_allowed():
    assert create_attn('bam', 32, num_dilated_convs=0) is not None


@pytest.mark.parametrize('value', [0, True, 64, 10 ** 6])
def test_bam_dilation(value):
    with pytest.raises(ValueError, match=rf'BottleneckAttention: dilation must be an int from 1 to 63, got {value!r}'):
        create_attn('bam', 32, dilation=value)


@pytest.mark.parametrize('option,value,match', [
    ('gamma', True, r'gamma must be a finite number > 0\.0, got True'),
    ('gamma', 0, r'gamma must be a finite number > 0\.0, got 0'),
    ('beta', -1, r'beta must be a finite number >= 0\.0, got -1'),
    ('beta', float('nan'), r'beta must be a finite number >= 0\.0, got nan'),
])
def test_eca_adaptive_rule_options(option, value, match):
    with pytest.raises(ValueError, match='EfficientChannelAttn: ' + match):
        create_attn('eca', 32, **{option: value})


@pytest.mark.parametrize('value', [0, -1e-4, True, float('inf'), '0.1'])
def test_simam_lambda(value):
    with pytest.raises(ValueError, match=rf'SimAM: e_lambda must be a finite number > 0\.0, got {value!r}'):
        create_attn('simam', 8, e_lambda=value)


@pytest.mark.parametrize('kind,option', [('cbam', 'mlp_bias'), ('convgate', 'bias'), ('nonlocal', 'sub_sample'),
                                         ('selfattn', 'use_sdpa'), ('dualattn', 'use_sdpa'), ('nonlocal', 'use_sdpa')])
@pytest.mark.parametrize('value', [1, 0, 'False', None])
def test_switches_must_be_bools(kind, option, value):
    with pytest.raises(ValueError, match=rf': {option} must be True or False, got {value!r}'):
        create_attn(kind, 8, **{option: value})


# ---- names ---------------------------------------------------------------------------

def test_mixed_case_names_are_stored_and_built_in_lower_case():
    @register_attention('MyTestGate')
    class MyTestGate(nn.Module):
        def __init__(self, channels, device=None, dtype=None):
            super().__init__()
            self.channels = channels

        def forward(self, x):
            return x

    from convattn_plugin.layers import registry
    try:
        assert 'mytestgate' in list_attentions() and 'MyTestGate' not in list_attentions()
        for name in ['MyTestGate', 'mytestgate', 'MYTESTGATE']:
            assert isinstance(create_attn(name, 4), MyTestGate)
        assert get_attn_info('MyTestGate').name == 'mytestgate'
        # The same name in another case is the same kind: a second class is refused.
        with pytest.raises(ValueError, match=r"attention kind 'mytestgate' is already registered to .*MyTestGate; pass overwrite=True"):
            register_attention('MYTESTGATE')(type('Other', (nn.Module,), {}))
    finally:
        registry._REGISTRY.pop('mytestgate', None)


@pytest.mark.parametrize('bad', ['gäte', 'a-b', '', None])
def test_names_must_be_ascii_identifiers(bad):
    with pytest.raises(ValueError, match=r'attention name must be a non-empty identifier \(letters, digits, _\)'):
        register_attention(bad)
