"""``add_attention`` reaches into the timm CNN families people fine-tune.

For each family (smallest timm variant, random weights, 64 px): the attention is on the
forward path (its hooks fire, and the output changes when the gates' parameters change),
and the plain model's state dict still loads, with exactly the attention keys missing.
"""
from __future__ import annotations

import pytest
import timm
import torch

import convattn_plugin  # noqa: F401
from convattn_plugin.models import add_attention, attention_types, load_backbone_weights

# (model, kind, positions): None means the family's default positions.
FAMILIES = [
    ('convnext_atto', 'eca', 'stages.*'),  # the README's example
    ('efficientnet_b0', 'cbam', 'blocks.*.*'),  # the README's example: SE slots taken
    ('mobilenetv2_050', 'se', None),
    ('mobilenetv3_small_050', 'cbam', None),
    ('regnetx_002', 'eca', None),
    ('resnet50d', 'cbam', None),
    ('resnext50_32x4d', 'se', None),
    ('densenet121', 'cbam', None),
    ('convnext_atto', 'coord', None),
    ('efficientnet_b0', 'triplet', None),
]
IMG = 64

pytestmark = pytest.mark.usefixtures('one_thread')


@pytest.mark.parametrize('name,kind,positions', FAMILIES)
def test_attention_is_on_the_forward_path_and_plain_weights_load(name, kind, positions):
    torch.manual_seed(0)
    plain = timm.create_model(name, num_classes=5).eval()
    model = add_attention(timm.create_model(name, num_classes=5), kind, positions).eval()
    attns = [m for m in model.modules() if isinstance(m, attention_types())]
    assert len(attns) >= 3

    # The plain weights load; only attention keys stay missing.
    report = model.load_state_dict(plain.state_dict(), strict=False)
    attention_keys = {k for k in model.state_dict() if k not in plain.state_dict()}
    assert attention_keys and report.unexpected_keys == []
    # (BatchNorm fills a missing num_batches_tracked itself, so load_state_dict does not list it.)
    assert set(report.missing_keys) == {k for k in attention_keys if not k.endswith('num_batches_tracked')}
    assert all('.attn.' in k or '.se.' in k for k in attention_keys)
    assert load_backbone_weights(model, plain.state_dict()).attention_keys == sorted(attention_keys)

    # timm zero-initialises the last norm of residual branches (the block starts as the
    # identity, and the attention's effect with it): give those weights values.
    with torch.no_grad():
        for p in model.parameters():
            if not p.any():
                p.normal_(0, 0.5)

    # Every attention module runs in forward.
    fired = set()
    handles = [m.register_forward_hook(lambda mod, i, o: fired.add(id(mod))) for m in attns]
    x = torch.randn(2, 3, IMG, IMG)
    with torch.no_grad():
        before = model.forward_features(x)
    for h in handles:
        h.remove()
    assert fired == {id(m) for m in attns}

    # The output depends on the gates.
    with torch.no_grad():
        for m in attns:
            for p in m.parameters():
                p.add_(torch.randn_like(p))
        after = model.forward_features(x)
    assert torch.isfinite(after).all()
    assert (after - before).abs().max() > 1e-3 * before.abs().max()


def test_no_default_positions_for_an_unknown_model():
    with pytest.raises(ValueError, match=r'no default positions for a Sequential; pass positions='):
        add_attention(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3)), 'se')
