"""The authors' published weights load unchanged through timm: logits equal their models'.

For each source, a reference model with the authors' parameter names and forward
(tests/published_reference) gets random weights, is saved as the authors saved theirs
(wrapper dict, ``module.`` keys, optimizer state, PyTorch 0.4's format for the 2018 files),
and is loaded with ``timm.create_model(tag, pretrained=True, pretrained_cfg_overlay=dict(file=...))``.
"""
from __future__ import annotations

import pickle

import pytest
import timm
import torch
from published_reference import authors_resnet, randomize_, save_like_authors

import convattn_plugin  # noqa: F401  (registers the models and tags)
from convattn_plugin.checkpoint import CompressedCheckpointError, HashMismatchError, NonFiniteWeightsError, sha256_of
from convattn_plugin.models import ArchitectureMismatchError
from convattn_plugin.models.published_weights import PUBLISHED

SIZE = 64

ECA_K = {18: (3, 5, 7, 7), 34: (3, 3, 5, 7), 50: (3, 5, 5, 7), 101: (3, 3, 5, 7), 152: (3, 3, 5, 7)}
# name -> (depth, authors' attention, per-stage option, PyTorch 0.4 format, name of the best-accuracy entry)
CASES = {
    'resnet50_cbam.jongchan_in1k': (50, 'cbam', (None,) * 4, True, 'best_prec1'),
    'resnet50_bam.jongchan_in1k': (50, 'bam', (None,) * 4, True, 'best_prec1'),
    'resnet18_eca.bangguwu_in1k': (18, 'eca', ECA_K[18], False, 'best_prec1'),
    'resnet18_simam.zjjconan_in1k': (18, 'simam', (0.1,) * 4, False, 'best_acc'),
    'resnet50_triplet.landskape_in1k': (50, 'triplet', (7,) * 4, False, 'best_prec1'),
    'resnet18_triplet.landskape_k3_in1k': (18, 'triplet', (3,) * 4, False, 'best_prec1'),
}
EXHAUSTIVE = {
    'resnet50_eca.bangguwu_in1k': (50, 'eca', ECA_K[50], False, 'best_prec1'),
    'resnet50_simam.zjjconan_in1k': (50, 'simam', (0.1,) * 4, False, 'best_acc'),
    'resnet34_eca.bangguwu_in1k': (34, 'eca', ECA_K[34], False, 'best_prec1'),
    'resnet101_eca.bangguwu_in1k': (101, 'eca', ECA_K[101], False, 'best_prec1'),
    'resnet152_eca.bangguwu_in1k': (152, 'eca', ECA_K[152], False, 'best_prec1'),
    'resnet34_simam.zjjconan_in1k': (34, 'simam', (0.1,) * 4, False, 'best_acc'),
    'resnet101_simam.zjjconan_in1k': (101, 'simam', (0.1,) * 4, False, 'best_acc'),
    'resnet50_triplet.landskape_k3_in1k': (50, 'triplet', (3,) * 4, False, 'best_prec1'),
    'resnet18_triplet.landskape_in1k': (18, 'triplet', (7,) * 4, False, 'best_prec1'),
}


def _authors_file(tmp_path, depth, attn, options, legacy, best_key, seed=0):
    torch.manual_seed(seed)
    reference = randomize_(authors_resnet(depth, attn, options), seed)
    return reference, save_like_authors(reference, tmp_path / 'authors.pth.tar', legacy=legacy, best_key=best_key)


def _check_same_logits(name, case, tmp_path):
    reference, path = _authors_file(tmp_path, *case)
    ours = timm.create_model(name, pretrained=True, pretrained_cfg_overlay=dict(file=str(path))).eval()
    x = torch.randn(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, got = reference(x), ours(x)
    assert expected.abs().max() > 1e-3  # the random model is not degenerate
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('name', sorted(CASES))
def test_authors_file_gives_authors_logits(name, tmp_path, one_thread):
    _check_same_logits(name, CASES[name], tmp_path)


@pytest.mark.exhaustive
@pytest.mark.parametrize('name', sorted(EXHAUSTIVE))
def test_authors_file_gives_authors_logits_deep(name, tmp_path, one_thread):
    _check_same_logits(name, EXHAUSTIVE[name], tmp_path)


def test_timm_seresnet50_weights_load_into_resnet50_se(tmp_path, one_thread):
    from safetensors.torch import save_file
    torch.manual_seed(0)
    reference = randomize_(timm.create_model('seresnet50'))
    path = tmp_path / 'model.safetensors'
    save_file(reference.state_dict(), str(path))
    ours = timm.create_model('resnet50_se.timm_a1_in1k', pretrained=True, pretrained_cfg_overlay=dict(file=str(path)))
    x = torch.randn(2, 3, SIZE, SIZE)
    with torch.no_grad():
        torch.testing.assert_close(ours.eval()(x), reference(x), atol=1e-5, rtol=1e-5)
    assert ours.pretrained_cfg['interpolation'] == 'bicubic' and ours.pretrained_cfg['crop_pct'] == 0.95


def test_every_tag_is_listed_with_its_reported_figures():
    listed = set(timm.list_pretrained('*'))
    for name, entry in PUBLISHED.items():
        assert name in listed
        cfg = timm.models.get_pretrained_cfg(name)
        assert (cfg.url or '') == (entry.cfg.get('url') or '')  # url: a direct, stable link
        assert cfg.hf_hub_id == entry.cfg.get('hf_hub_id')  # the hub: a file timm itself keeps there
        assert cfg.license == entry.license and cfg.origin_url == entry.repo_url
        if entry.top1 is not None:
            assert f'{entry.top1:.2f}%' in cfg.description and 'reported' in cfg.description
        assert entry.download_url in cfg.notes[0]
        backbone = next(f'arXiv:{p}' for f, p in (('mobilenetv2', '1801.04381'), ('resnext', '1611.05431'),
                                                  ('resnet', '1512.03385')) if name.startswith(f))
        assert cfg.paper_ids == ((backbone, f'arXiv:{entry.arxiv}') if entry.arxiv else (backbone,)), name
    assert timm.list_pretrained('*cbam*') == ['resnet50_cbam.jongchan_in1k']
    assert 'resnet101_eca.bangguwu_in1k' in timm.list_pretrained('*eca*')


def test_untrained_tag_stays_the_default():
    assert timm.models.get_pretrained_cfg('resnet50_cbam').tag == 'untrained'
    plain = timm.create_model('resnet50_cbam')
    assert plain.layer1[0].se.fc1.bias is None  # the paper's MLP, not the authors' tag's
    tagged = timm.create_model('resnet50_cbam.jongchan_in1k')
    assert tagged.layer1[0].se.fc1.bias is not None and tagged.layer1[0].se.spatial.bn.momentum == 0.01


def test_tags_build_the_authors_architecture():
    eca = timm.create_model('resnet50_eca.bangguwu_in1k')
    assert [eca.get_submodule(f'layer{i}.0.se').conv.kernel_size[0] for i in range(1, 5)] == list(ECA_K[50])
    bam = timm.create_model('resnet50_bam.jongchan_in1k')
    assert [hasattr(bam.get_submodule(f'layer{i}'), 'attn') for i in range(1, 5)] == [True, True, True, False]
    assert bam.layer1.attn.form == 'official' and all(b.se is None or not b.se for b in bam.layer1[:3])
    simam = timm.create_model('resnet18_simam.zjjconan_in1k')
    assert simam.layer1[0].bn2.attn.e_lambda == 0.1


def test_without_file_the_error_says_where_authors_publish(tmp_path):
    with pytest.raises(FileNotFoundError, match='drive.google.com/file/d/1mvAVvhLR_2XY_bPYxh-SEz4vDmGzSArO'):
        timm.create_model('resnet50_cbam.jongchan_in1k', pretrained=True,
                          pretrained_cfg_overlay=dict(file=str(tmp_path / 'missing.pth')))


def test_tag_refuses_a_conflicting_option():
    with pytest.raises(ValueError, match='attn_kwargs=.*conflicts with the authors'):
        timm.create_model('resnet18_simam.zjjconan_in1k', attn_kwargs=dict(e_lambda=1e-4))


def test_other_depth_is_refused_listing_keys(tmp_path, one_thread):
    _, path = _authors_file(tmp_path, 18, 'eca', ECA_K[18], False, 'best_prec1')
    with pytest.raises(ArchitectureMismatchError) as e:
        timm.create_model('resnet34_eca.bangguwu_in1k', pretrained=True, pretrained_cfg_overlay=dict(file=str(path)))
    assert 'missing (model has, file lacks): layer1.2.conv1.weight' in str(e.value)
    assert 'layer4.2.se.conv.weight' in str(e.value)


def test_other_kernel_sizes_are_refused_with_shapes(tmp_path, one_thread):
    # What the authors' eca_resnet18 builder makes whatever k_size says: kernel 3 everywhere.
    _, path = _authors_file(tmp_path, 18, 'eca', (3, 3, 3, 3), False, 'best_prec1')
    with pytest.raises(ArchitectureMismatchError, match=r'shape: layer2.0.se.conv.weight: model \(1, 1, 5\), '
                                                            r'file \(1, 1, 3\)'):
        timm.create_model('resnet18_eca.bangguwu_in1k', pretrained=True, pretrained_cfg_overlay=dict(file=str(path)))


class _CreatesFileWhenUnpickled:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, 'w')


def test_file_with_code_is_not_unpickled(tmp_path):
    # timm 1.0.31 reads the file with torch.load(weights_only=True) and does not fall back.
    path, marker = tmp_path / 'evil.pth.tar', tmp_path / 'ran'
    torch.save({'state_dict': {}, 'payload': _CreatesFileWhenUnpickled(marker)}, path)
    with pytest.raises((pickle.UnpicklingError, RuntimeError), match='weights_only'):
        timm.create_model('resnet18_simam.zjjconan_in1k', pretrained=True, pretrained_cfg_overlay=dict(file=str(path)))
    assert not marker.exists()


def test_other_num_classes_keeps_the_backbone(tmp_path, one_thread):
    reference, path = _authors_file(tmp_path, 18, 'simam', (0.1,) * 4, False, 'best_acc')
    ours = timm.create_model('resnet18_simam.zjjconan_in1k', pretrained=True, num_classes=10,
                             pretrained_cfg_overlay=dict(file=str(path)))
    assert ours.fc.out_features == 10
    torch.testing.assert_close(ours.layer4[1].conv2.weight, reference.layer4[1].conv2[0].weight)


def test_file_without_bn_counters_loads(tmp_path, one_thread):
    # PyTorch before 0.4.1 saved BatchNorm without num_batches_tracked.
    torch.manual_seed(0)
    reference = randomize_(authors_resnet(18, 'eca', ECA_K[18]))
    state_dict = {f'module.{k}': v for k, v in reference.state_dict().items() if not k.endswith('num_batches_tracked')}
    path = tmp_path / 'old.pth.tar'
    torch.save({'state_dict': state_dict, 'epoch': 90}, path, _use_new_zipfile_serialization=False)
    ours = timm.create_model('resnet18_eca.bangguwu_in1k', pretrained=True, pretrained_cfg_overlay=dict(file=str(path)))
    x = torch.randn(1, 3, SIZE, SIZE)
    with torch.no_grad():
        torch.testing.assert_close(ours.eval()(x), reference(x), atol=1e-5, rtol=1e-5)


SIMAM18 = ('resnet18_simam.zjjconan_in1k', (18, 'simam', (0.1,) * 4, False, 'best_acc'))


def _create(name, path, **kwargs):
    return timm.create_model(name, pretrained=True, pretrained_cfg_overlay=dict(file=str(path)), **kwargs)


def test_a_hash_in_the_file_name_is_checked_as_by_every_loader(tmp_path, one_thread):
    name, case = SIMAM18
    reference, path = _authors_file(tmp_path, *case)
    wrong = path.rename(tmp_path / 'simam18-deadbeef.pth')
    with pytest.raises(HashMismatchError, match=r'simam18-deadbeef\.pth: its name says sha256 deadbeef'):
        _create(name, wrong)
    right = wrong.rename(tmp_path / f'simam18-{sha256_of(wrong)[:8]}.pth')
    x = torch.randn(1, 3, SIZE, SIZE)
    with torch.no_grad():
        torch.testing.assert_close(_create(name, right).eval()(x), reference(x), atol=1e-5, rtol=1e-5)


def test_nan_in_the_authors_file_is_refused_by_key(tmp_path, one_thread):
    name, case = SIMAM18
    reference, path = _authors_file(tmp_path, *case)
    checkpoint = torch.load(path, weights_only=True)
    checkpoint['state_dict']['module.layer3.0.bn1.running_var'][0] = float('nan')
    torch.save(checkpoint, path)
    with pytest.raises(NonFiniteWeightsError, match=r"the authors' file has non-finite values .* "
                                                    r'layer3\.0\.bn1\.running_var'):
        _create(name, path)


def test_a_compressed_authors_file_is_refused_before_timm_reads_it(tmp_path, monkeypatch):
    import zipfile

    name, case = SIMAM18
    _, path = _authors_file(tmp_path, *case)
    packed = tmp_path / 'packed.pth.tar'
    with zipfile.ZipFile(path) as z, zipfile.ZipFile(packed, 'w') as out:
        for info in z.infolist():
            out.writestr(info.filename, z.read(info), compress_type=zipfile.ZIP_DEFLATED)
    reads = []
    monkeypatch.setattr(torch, 'load', lambda *a, **k: reads.append(a))
    with pytest.raises(CompressedCheckpointError, match=r'packed\.pth\.tar: refused before loading'):
        _create(name, packed)
    assert reads == []
