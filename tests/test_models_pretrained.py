"""``load_backbone_weights``: plain ResNet / VGG checkpoints (timm and torchvision layouts)."""
from __future__ import annotations

import pytest
import timm
import torch
import torchvision
from safetensors.torch import save_file

import convattn_plugin  # noqa: F401  (registers the models)
from convattn_plugin.models import ArchitectureMismatchError, add_attention, load_backbone_weights


pytestmark = pytest.mark.usefixtures('one_thread')


def _assert_backbone_equals(model, baseline: dict[str, torch.Tensor], report, skip=()):
    state = model.state_dict()
    for key, value in baseline.items():
        if key not in skip:
            torch.testing.assert_close(state[key], value, rtol=0, atol=0, msg=key)
    assert set(report.loaded) == set(baseline) - set(skip)


@pytest.fixture(scope='module')
def resnet18_files(tmp_path_factory):
    """A random timm resnet18 as .safetensors and a random torchvision resnet18 as .pth."""
    folder = tmp_path_factory.mktemp('resnet18')
    torch.manual_seed(0)
    timm_sd = timm.create_model('resnet18').state_dict()
    save_file(timm_sd, folder / 'timm.safetensors')
    tv_sd = torchvision.models.resnet18().state_dict()
    torch.save(tv_sd, folder / 'torchvision.pth')
    return {'timm': (folder / 'timm.safetensors', timm_sd), 'torchvision': (folder / 'torchvision.pth', tv_sd)}


@pytest.mark.parametrize('layout', ['timm', 'torchvision'])
def test_resnet_loads_plain_weights(resnet18_files, layout):
    path, baseline = resnet18_files[layout]
    model = timm.create_model('resnet18_cbam')
    fresh_attention = {k: v.clone() for k, v in model.state_dict().items() if '.se.' in k}
    report = load_backbone_weights(model, path)
    assert report.missing_keys == sorted(fresh_attention) == report.attention_keys
    assert report.unexpected_keys == [] and report.mismatched_keys == []
    _assert_backbone_equals(model, baseline, report)
    for key, value in fresh_attention.items():  # the attention is left as initialised
        torch.testing.assert_close(model.state_dict()[key], value, rtol=0, atol=0)
    assert 'missing: layer1.0.se.fc1.weight' in str(report)


def test_new_classifier_and_no_classifier(resnet18_files):
    path, baseline = resnet18_files['torchvision']
    model = timm.create_model('resnet18_eca', num_classes=10)
    report = load_backbone_weights(model, path)
    assert sorted(report.mismatched_keys) == ['fc.bias', 'fc.weight']  # fine-tuning: new head stays fresh
    _assert_backbone_equals(model, baseline, report, skip=('fc.weight', 'fc.bias'))

    model = timm.create_model('resnet18_eca', num_classes=0)
    report = load_backbone_weights(model, path)
    assert report.unexpected_keys == ['fc.bias', 'fc.weight']  # sorted
    assert set(report.missing_keys) == set(report.attention_keys)


def test_wrong_backbone_is_an_error(resnet18_files):
    path, _ = resnet18_files['timm']
    with pytest.raises(ArchitectureMismatchError, match=r'does not cover the backbone.*missing \(layer1\.2\.') as e:
        load_backbone_weights(timm.create_model('resnet34_se', device='meta'), path)
    assert 'layer1.2.conv1.weight' in e.value.report.missing_keys  # the whole difference, key by key


def test_strict_false_reports_instead_of_raising(resnet18_files):
    path, _ = resnet18_files['timm']
    report = load_backbone_weights(timm.create_model('resnet34_se'), path, strict=False)
    assert 'layer1.2.conv1.weight' in report.missing_keys


def test_vgg_loads_torchvision_and_timm_layouts(tmp_path):
    torch.manual_seed(0)
    tv_sd = torchvision.models.vgg11_bn().state_dict()
    torch.save({'state_dict': tv_sd}, tmp_path / 'vgg11_bn.pth')  # a wrapped checkpoint, as many are
    model = timm.create_model('vgg11_bn_localattn')
    report = load_backbone_weights(model, tmp_path / 'vgg11_bn.pth')
    assert report.missing_keys == report.attention_keys
    assert all('.attn.' in k for k in report.missing_keys) and len(report.missing_keys) == 5 * 8  # 4 convs per stage
    assert report.unexpected_keys == [] and report.mismatched_keys == []
    state = model.state_dict()
    for key, value in tv_sd.items():
        if key.startswith('features.'):
            torch.testing.assert_close(state[key], value, rtol=0, atol=0)
    torch.testing.assert_close(state['pre_logits.fc1.weight'], tv_sd['classifier.0.weight'].reshape(-1, 512, 7, 7))
    torch.testing.assert_close(state['head.fc.weight'], tv_sd['classifier.6.weight'])

    timm_sd = timm.create_model('vgg11_bn').state_dict()  # in memory, timm layout
    report = load_backbone_weights(model, timm_sd)
    assert report.missing_keys == report.attention_keys
    _assert_backbone_equals(model, timm_sd, report)

    # features_only flattens `features.3` to `features_3`: the same checkpoint still fits.
    features = timm.create_model('vgg11_bn_localattn', features_only=True)
    report = load_backbone_weights(features, timm_sd)
    assert set(report.missing_keys) == set(report.attention_keys) != set()
    assert all(k.startswith(('pre_logits.', 'head.')) for k in report.unexpected_keys)
    torch.testing.assert_close(features.state_dict()['features_0.weight'], timm_sd['features.0.weight'])


def test_add_attention_model_loads_plain_weights():
    plain = timm.create_model('resnet18')
    model = add_attention(timm.create_model('resnet18'), 'simam', 'layer4.*')  # parameter-free kind
    model = add_attention(model, 'se', 'layer3.*')
    report = load_backbone_weights(model, plain.state_dict())
    assert report.missing_keys == report.attention_keys
    assert all(k.startswith('layer3.') and '.se.' in k for k in report.missing_keys)
    _assert_backbone_equals(model, plain.state_dict(), report)
