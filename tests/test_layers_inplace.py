"""The ``inplace`` constructor option of the gating kinds: off by default, hooks see what was computed.

In-place gating (the gate multiplied into the input tensor itself) is an explicit
option, as ``nn.ReLU(inplace=...)`` is. Off, a forward hook on the layer that feeds the
gate keeps exactly what that layer computed; on, inference saves the allocation of the
output (the output is the input tensor), and under autograd nothing changes.
"""
import pytest
import torch
import torch.nn as nn

from convattn_plugin.layers import accepted_options, create_attn, get_attn_info, list_attentions

GATING_KINDS = [k for k in list_attentions() if 'inplace' in (accepted_options(get_attn_info(k).cls) or [])]


def test_every_kind_that_changes_its_input_elementwise_has_the_option():
    expected = {'se', 'cbam', 'eca', 'gc', 'coord', 'simam', 'triplet', 'bam', 'localattn', 'convgate'}
    assert expected <= set(GATING_KINDS)


def _bn_then_gate(kind: str, inplace: bool) -> nn.Sequential:
    torch.manual_seed(0)
    bn = nn.BatchNorm2d(16)
    gate = create_attn(kind, 16, inplace=inplace)
    with torch.no_grad():
        for p in [*bn.parameters(), *gate.parameters()]:
            p.normal_(0, 0.5)
        bn.running_mean.normal_(0, 0.5)
    return nn.Sequential(bn, gate).eval()


@pytest.mark.parametrize('kind', GATING_KINDS)
def test_option_is_an_instance_attribute_off_by_default(kind):
    module = create_attn(kind, 8)
    assert module.inplace is False
    assert 'inplace' not in vars(type(module)), 'a class attribute would be shared by every instance'
    assert create_attn(kind, 8, inplace=True).inplace is True
    assert 'inplace=True' in repr(create_attn(kind, 8, inplace=True))


@pytest.mark.parametrize('kind', GATING_KINDS)
def test_hook_on_preceding_layer_keeps_what_it_computed(kind):
    model = _bn_then_gate(kind, inplace=False)
    seen = []
    model[0].register_forward_hook(lambda mod, args, out: seen.append(out))  # keeps the tensor itself
    x = torch.randn(2, 16, 9, 7)
    with torch.no_grad():
        bn_out = model[0](x).clone()
        seen.clear()
        out = model(x)
    assert torch.equal(seen[0], bn_out), f'{kind} overwrote its input'
    assert not torch.equal(out, bn_out), 'the gate changes the features (else this test proves nothing)'


@pytest.mark.parametrize('kind', GATING_KINDS)
def test_inplace_saves_the_allocation_in_inference_only(kind):
    reference = _bn_then_gate(kind, inplace=False)
    model = _bn_then_gate(kind, inplace=True)
    seen = []
    model[0].register_forward_hook(lambda mod, args, out: seen.append(out))
    x = torch.randn(2, 16, 9, 7)
    with torch.no_grad():
        expected = reference(x)
        out = model(x)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)
    # The output is the preceding layer's tensor, overwritten: hooks on that layer see gated values.
    assert out.data_ptr() == seen[0].data_ptr()
    assert torch.equal(seen[0], out)
    # Under autograd the same module allocates a new output and leaves its input alone.
    model.train()
    features = torch.randn(2, 16, 9, 7, requires_grad=True)
    before = features.detach().clone()
    out = model[1](features)
    out.sum().backward()
    assert out.data_ptr() != features.data_ptr()
    assert torch.equal(features.detach(), before)


@pytest.mark.parametrize('kind', GATING_KINDS)
@pytest.mark.parametrize('value', [1, 0, 'yes', None])
def test_inplace_must_be_a_bool(kind, value):
    with pytest.raises(ValueError, match=rf': inplace must be True or False, got {value!r}'):
        create_attn(kind, 8, inplace=value)
