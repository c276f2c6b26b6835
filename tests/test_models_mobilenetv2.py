"""MobileNetV2 with attention (issue 20): timm's own model, the authors' placements, the CA tag.

The CA tag is proven without the authors' file: the authors' ``mbv2_ca`` re-written with their
parameter names (tests/published_reference/mobilenetv2_reference.py) gets random weights, is
saved as a plain state dict (how code that loads ``mbv2_ca.pth`` reads it) and loaded through
``timm.create_model('mobilenetv2_100_coord.houqb_in1k', pretrained=True, ...)``.
"""
from __future__ import annotations

import pytest
import timm
import torch
from published_reference import randomize_
from published_reference.mobilenetv2_reference import MBV2_CA

import convattn_plugin  # noqa: F401  (registers the models and tags)
from convattn_plugin.layers import get_attn_info, list_attentions
from convattn_plugin.models import MOBILENETV2_ARCHS
from convattn_plugin.models import ArchitectureMismatchError

IMG = 64
pytestmark = pytest.mark.usefixtures('one_thread')


def _attn_paths(model):
    types = tuple(get_attn_info(k).cls for k in list_attentions())
    return [n for n, m in model.named_modules() if isinstance(m, types)]


def _top_attn(model):
    paths = _attn_paths(model)
    return [p for p in paths if not any(p.startswith(q + '.') for q in paths)]


def test_every_kind_and_width_is_registered_on_timms_class():
    names = {f'{a}_{k}' for a in MOBILENETV2_ARCHS for k in list_attentions()}
    assert names <= set(timm.list_models('mobilenetv2_*'))
    model = timm.create_model('mobilenetv2_100_cbam', device='meta')
    assert type(model) is timm.models.efficientnet.EfficientNet
    plain = timm.create_model('mobilenetv2_100', device='meta').state_dict()
    ours = model.state_dict()
    assert all(k in ours and ours[k].shape == v.shape for k, v in plain.items())  # plain weights load
    assert all('.se.' in k for k in ours if k not in plain)


@pytest.mark.parametrize('kind,expected', [
    ('coord', ['blocks.1.0.se', 'blocks.6.0.se']),            # expanded blocks only
    ('eca', ['blocks.0.0.bn2.act.attn', 'blocks.6.0.bn3.act.attn']),
    ('triplet', ['blocks.0.0.bn2.act.attn', 'blocks.6.0.bn3.act.attn']),
    ('simam', ['blocks.0.0.conv_dw.attn', 'blocks.6.0.conv_dw.attn']),
    ('ema', ['blocks.2.1.se', 'blocks.6.0.se']),              # expanded width > 144
    ('cbam', ['blocks.0.0.se', 'blocks.6.0.se']),             # no paper placement: SE slot
    ('nonlocal', ['blocks.6.0.se', 'blocks.6.0.se']),         # quadratic: last stage only
])
def test_default_placement(kind, expected):
    found = _top_attn(timm.create_model(f'mobilenetv2_100_{kind}', device='meta'))
    assert [found[0], found[-1]] == expected
    counts = {'coord': 16, 'eca': 17, 'triplet': 17, 'simam': 17, 'ema': 13, 'cbam': 17, 'nonlocal': 1}
    assert len(found) == counts[kind]


@pytest.mark.parametrize('name', ['mobilenetv2_100_eca', 'mobilenetv2_035_simam', 'mobilenetv2_050_coord',
                                  'mobilenetv2_110d_triplet'])
def test_forward_backward_features_and_head(name):
    model = timm.create_model(name, num_classes=3)
    x = torch.randn(2, 3, IMG, IMG)
    out = model(x)
    assert out.shape == (2, 3) and torch.isfinite(out).all()
    out.mean().backward()
    assert not [n for n, p in model.named_parameters() if p.grad is None]
    model.eval()
    with torch.no_grad():
        final, feats = model.forward_intermediates(x)
        assert [f.shape[1] for f in feats] == [i['num_chs'] for i in model.feature_info]
        assert model.forward_head(final, pre_logits=True).shape == (2, model.head_hidden_size)
        model.reset_classifier(0)
        assert model(x).shape == (2, model.num_features)
    features = timm.create_model(name, features_only=True).eval()
    with torch.no_grad():
        maps = features(x)
    assert [m.shape[1] for m in maps] == features.feature_info.channels()
    assert [IMG // m.shape[-1] for m in maps] == features.feature_info.reduction() == [2, 4, 8, 16, 32]
    cfg = timm.create_model(name, device='meta').pretrained_cfg
    assert cfg['tag'] == 'untrained' and cfg['first_conv'] == 'conv_stem' and cfg['classifier'] == 'classifier'


def test_bad_position_is_refused():
    with pytest.raises(ValueError, match="attn_position='middle' is not one of"):
        timm.create_model('mobilenetv2_100_se', attn_position='middle')
    with pytest.raises(ValueError, match='attn_stages: 7 is not a stage'):
        timm.create_model('mobilenetv2_100_se', attn_stages=(7,))


def _authors_file(tmp_path, classifier_in_sequential=True, seed=0):
    torch.manual_seed(seed)
    reference = randomize_(MBV2_CA(classifier_in_sequential=classifier_in_sequential), seed)
    with torch.no_grad():  # the CA conv biases before BN are folded on loading: make them matter
        for m in reference.modules():
            if isinstance(m, torch.nn.Conv2d) and m.bias is not None:
                m.bias.normal_(0, 0.5)
    path = tmp_path / 'mbv2_ca.pth'
    torch.save(reference.state_dict(), path)
    return reference, path


@pytest.mark.parametrize('classifier_in_sequential', [True, False])
def test_authors_ca_file_gives_authors_logits(tmp_path, classifier_in_sequential):
    reference, path = _authors_file(tmp_path, classifier_in_sequential)
    ours = timm.create_model('mobilenetv2_100_coord.houqb_in1k', pretrained=True,
                             pretrained_cfg_overlay=dict(file=str(path))).eval()
    x = torch.randn(2, 3, IMG, IMG, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, got = reference(x), ours(x)
    assert expected.abs().max() > 1e-3
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    cfg = ours.pretrained_cfg
    assert cfg['license'] == 'mit' and '74.30%' in cfg['description'] and cfg['first_conv'] == 'conv_stem'


def test_tag_with_other_num_classes_keeps_the_authors_backbone(tmp_path):
    reference, path = _authors_file(tmp_path, classifier_in_sequential=True)
    ours = timm.create_model('mobilenetv2_100_coord.houqb_in1k', pretrained=True, num_classes=3,
                             pretrained_cfg_overlay=dict(file=str(path)))
    assert ours.get_classifier().out_features == 3
    theirs = reference.state_dict()
    assert torch.equal(ours.conv_stem.weight, theirs['features.0.0.weight'])  # the authors' stem, by its key
    # the authors' backbone throughout: the features of a tag built with the 1000-class head are the same
    full = timm.create_model('mobilenetv2_100_coord.houqb_in1k', pretrained=True,
                             pretrained_cfg_overlay=dict(file=str(path)))
    x = torch.randn(1, 3, IMG, IMG, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(ours.eval().forward_features(x), full.eval().forward_features(x))


def test_another_architecture_is_refused_listing_keys(tmp_path):
    # timm's plain MobileNetV2-1.0: the same backbone keys, no CA.
    path = tmp_path / 'other.pth'
    torch.save(timm.create_model('mobilenetv2_100').state_dict(), path)
    with pytest.raises(ArchitectureMismatchError) as e:
        timm.create_model('mobilenetv2_100_coord.houqb_in1k', pretrained=True,
                          pretrained_cfg_overlay=dict(file=str(path)))
    assert 'missing (model has, file lacks): blocks.1.0.se.conv1.weight' in str(e.value)
    assert 'blocks.6.0.se.conv_w.bias' in str(e.value)


def test_tag_refuses_conflicting_option_and_missing_file(tmp_path):
    with pytest.raises(ValueError, match='attn_position=.*conflicts with the authors'):
        timm.create_model('mobilenetv2_100_coord.houqb_in1k', attn_position='block_end')
    with pytest.raises(FileNotFoundError, match='houqb/CoordAttention/blob/main/mbv2_ca.pth'):
        timm.create_model('mobilenetv2_100_coord.houqb_in1k', pretrained=True,
                          pretrained_cfg_overlay=dict(file=str(tmp_path / 'missing.pth')))


def test_authors_eca_file_gives_authors_logits(tmp_path):
    from published_reference import save_like_authors
    from published_reference.mobilenetv2_reference import ECA_MobileNetV2
    torch.manual_seed(0)
    reference = randomize_(ECA_MobileNetV2())
    with torch.no_grad():  # randomize_ scales by the weights' std, which a 1-element kernel has none of
        for m in reference.modules():
            if isinstance(m, torch.nn.Conv1d):
                m.weight.normal_(0, 1)
    path = save_like_authors(reference, tmp_path / 'eca_mobilenetv2_k13.pth.tar')
    ours = timm.create_model('mobilenetv2_100_eca.bangguwu_in1k', pretrained=True,
                             pretrained_cfg_overlay=dict(file=str(path))).eval()
    assert [ours.blocks[s][0].get_submodule(('bn2' if s == 0 else 'bn3') + '.act.attn').conv.kernel_size[0]
            for s in range(7)] == [1, 1, 1, 1, 3, 3, 3]
    x = torch.randn(2, 3, IMG, IMG, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, got = reference(x), ours(x)
    assert expected.abs().max() > 1e-3
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    # The CA authors' file is another architecture for this tag: refused with its keys.
    _, ca_path = _authors_file(tmp_path)
    with pytest.raises(ArchitectureMismatchError, match='blocks.1.0.bn3.act.attn.conv.weight'):
        timm.create_model('mobilenetv2_100_eca.bangguwu_in1k', pretrained=True,
                          pretrained_cfg_overlay=dict(file=str(ca_path)))
