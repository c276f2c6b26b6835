"""FcaNet tags: the authors' fca{34,50,101,152}.pth load through timm and give their models' logits.

The reference (tests/published_reference/fcanet_reference.py) is the authors' FcaNet with their
parameter names; its random weights are saved as their published files are (a plain state dict),
then loaded with ``timm.create_model('resnet{d}_fca.cfzd_in1k', pretrained=True, ...)``.
"""
from __future__ import annotations

import pytest
import timm
import torch
from published_reference import randomize_
from published_reference.fcanet_reference import C2WH, fcanet, save_like_fcanet

import convattn_plugin  # noqa: F401  (registers the models and tags)
from convattn_plugin.layers.fca import dct_filters, frequency_indices
from convattn_plugin.models import ArchitectureMismatchError
from convattn_plugin.models.published_weights import PUBLISHED

SIZE = 64
RELEASE = 'https://github.com/cfzd/FcaNet/releases/download/v1.0'


def _authors_file(tmp_path, depth, seed=0, edit=None):
    torch.manual_seed(seed)
    reference = randomize_(fcanet(depth), seed)
    if edit is not None:
        edit(reference)
    return reference, save_like_fcanet(reference, tmp_path / f'fca{depth}.pth')


def _same_logits(model, reference):
    x = torch.randn(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, got = reference(x), model.eval()(x)
    assert expected.abs().max() > 1e-3  # the random model is not degenerate
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def _load(depth, path, **kwargs):
    return timm.create_model(f'resnet{depth}_fca.cfzd_in1k', pretrained=True,
                             pretrained_cfg_overlay=dict(file=str(path)), **kwargs)


@pytest.mark.parametrize('depth', [34, 50, *(pytest.param(d, marks=pytest.mark.exhaustive) for d in (101, 152))])
def test_authors_file_gives_authors_logits(depth, tmp_path, one_thread):
    reference, path = _authors_file(tmp_path, depth)
    _same_logits(_load(depth, path), reference)


def test_tag_builds_the_authors_architecture():
    model = timm.create_model('resnet34_fca.cfzd_in1k', device='meta')
    assert type(model.layer1[0]).__name__ == 'BasicBlock'  # FcaBasicBlock: attention on planes, after bn2
    sizes = [model.get_submodule(f'layer{s}.0.se').dct_size for s in range(1, 5)]
    assert sizes == list(C2WH.values()) == [56, 28, 14, 7]
    se = model.layer3[5].se
    assert (se.freq_sel, se.num_freq, se.fc1.out_channels) == ('top', 16, 256 // 16) and se.fc1.bias is None
    assert all(b.se is not None for s in range(1, 5) for b in model.get_submodule(f'layer{s}'))
    deep = timm.create_model('resnet50_fca.cfzd_in1k', device='meta')
    assert deep.layer4[2].se.dct_layer.weight.shape == (2048, 7, 7) and deep.layer4[2].se.fc1.out_channels == 128


def test_cfg_downloads_the_release_file_and_names_the_figures():
    for depth in (34, 50, 101, 152):
        entry = PUBLISHED[f'resnet{depth}_fca.cfzd_in1k']
        cfg = timm.models.get_pretrained_cfg(entry.name)
        assert cfg.url == f'{RELEASE}/fca{depth}.pth' and not cfg.file and not cfg.hf_hub_id
        assert cfg.license == 'mit' and 'reported' in cfg.description
        assert 'pretrained=True downloads' in cfg.notes[0] and entry.download_url in cfg.notes[0]
    assert '75.07%' in timm.models.get_pretrained_cfg('resnet34_fca.cfzd_in1k').description
    assert sorted(timm.list_pretrained('*_fca*')) == sorted(f'resnet{d}_fca.cfzd_in1k' for d in (34, 50, 101, 152))


def test_pretrained_loads_the_url_through_torch_hub_cache(tmp_path, monkeypatch, one_thread):
    # What timm does for its own url weights; the cache is filled beforehand, so nothing is downloaded.
    monkeypatch.setattr(torch.hub, '_hub_dir', str(tmp_path / 'hub'))
    (tmp_path / 'hub' / 'checkpoints').mkdir(parents=True)

    def no_download(url, *args, **kwargs):
        raise AssertionError(f'tried to download {url}')
    monkeypatch.setattr(torch.hub, 'download_url_to_file', no_download)
    reference, path = _authors_file(tmp_path, 34)
    path.rename(tmp_path / 'hub' / 'checkpoints' / 'fca34.pth')
    _same_logits(timm.create_model('resnet34_fca.cfzd_in1k', pretrained=True), reference)


def test_an_empty_cached_download_is_refused_before_timm_reads_it(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, '_hub_dir', str(tmp_path))
    (tmp_path / 'checkpoints').mkdir()
    (tmp_path / 'checkpoints' / 'fca34.pth').write_bytes(b'')
    with pytest.raises(ValueError, match=r'fca34\.pth.* is empty'):
        timm.create_model('resnet34_fca.cfzd_in1k', pretrained=True)


def _round_dct_through_fp16(model):
    for name, buf in model.named_buffers():
        if name.endswith('dct_layer.weight'):
            buf.copy_(buf.half().float())


def test_dct_buffers_rounded_by_fp16_training_load_as_in_the_file(tmp_path, one_thread):
    # The authors trained with apex O2 and converted to FP32: the file's filters may be fp16-rounded.
    reference, path = _authors_file(tmp_path, 34, edit=_round_dct_through_fp16)
    ours = _load(34, path)
    torch.testing.assert_close(ours.layer1[0].se.dct_layer.weight, reference.layer1[0].att.dct_layer.weight,
                               atol=0, rtol=0)  # the file's values, not recomputed
    _same_logits(ours, reference)


def _other_filters_in_layer1(model):
    for block in model.layer1:
        weight = block.att.dct_layer.weight
        weight.copy_(dct_filters(weight.shape[0], 56, frequency_indices('low', 16, 56)).float())


def test_other_dct_filters_are_refused_listing_every_key(tmp_path, one_thread):
    _, path = _authors_file(tmp_path, 34, edit=_other_filters_in_layer1)
    with pytest.raises(ArchitectureMismatchError, match='3 DCT filter buffers') as e:
        _load(34, path)
    for key in ('layer1.0.se.dct_layer.weight', 'layer1.1.se.dct_layer.weight', 'layer1.2.se.dct_layer.weight'):
        assert key in str(e.value)
    assert 'layer2.0' not in str(e.value)


def test_learned_filters_are_refused(tmp_path, one_thread):
    # The FAQ's "learnable tensor, DCT initialization" model: the same key, trained values.
    def learned(model):
        model.layer4[0].att.dct_layer.weight.add_(0.05)
    _, path = _authors_file(tmp_path, 34, edit=learned)
    with pytest.raises(ArchitectureMismatchError, match=r'layer4\.0\.se\.dct_layer\.weight: max difference 0\.05'):
        _load(34, path)


def test_other_depth_is_refused_listing_keys(tmp_path, one_thread):
    _, path = _authors_file(tmp_path, 34)
    with pytest.raises(ArchitectureMismatchError) as e:
        _load(50, path)
    message = str(e.value)
    assert 'missing (model has, file lacks): layer1.0.conv3.weight' in message
    assert 'shape: layer1.0.se.fc1.weight: model (16, 256, 1, 1), file (4, 64, 1, 1)' in message
    assert 'shape: fc.weight: model (1000, 2048), file (1000, 512)' in message


def test_another_dct_size_is_refused_by_shape(tmp_path, one_thread):
    _, path = _authors_file(tmp_path, 34)
    state = torch.load(path, weights_only=True)
    for k in [k for k in state if k.startswith('layer1.') and k.endswith('dct_layer.weight')]:
        state[k] = dct_filters(64, 14, frequency_indices('top', 16, 14)).float()  # filters of a 14x14 map
    torch.save(state, path)
    with pytest.raises(ArchitectureMismatchError, match=r'shape: layer1\.0\.se\.dct_layer\.weight: model '
                                                            r'\(64, 56, 56\), file \(64, 14, 14\)'):
        _load(34, path)


def test_other_num_classes_keeps_the_backbone(tmp_path, one_thread):
    reference, path = _authors_file(tmp_path, 34)
    ours = _load(34, path, num_classes=10)
    assert ours.fc.out_features == 10
    torch.testing.assert_close(ours.layer4[2].se.fc2.weight.flatten(1), reference.layer4[2].att.fc[2].weight)
