"""The Triplet, SimAM and EMA authors' MobileNetV2 files load through their tags and give their models' logits.

The references (tests/published_reference/mobilenetv2_more.py) are the authors' MobileNetV2s with
their parameter names and forward, at random weights, saved as their training scripts save them,
then loaded with ``timm.create_model('mobilenetv2_100_{kind}.{source}_in1k', pretrained=True, ...)``.
"""
from __future__ import annotations

import argparse

import pytest
import timm
import torch
from published_reference import randomize_, save_like_authors
from published_reference.mobilenetv2_more import SimAMMobileNetV2, TripletAttention_MobileNetV2, ema_mobilenetv2_100

import convattn_plugin  # noqa: F401  (registers the models and tags)
from convattn_plugin.models import ArchitectureMismatchError
from convattn_plugin.models.published_weights import PUBLISHED

IMG = 64


def _same_logits(model, reference):
    x = torch.randn(2, 3, IMG, IMG, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, got = reference.eval()(x), model.eval()(x)
    assert expected.abs().max() > 1e-3  # the random model is not degenerate
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def _load(name, path, **kwargs):
    return timm.create_model(name, pretrained=True, pretrained_cfg_overlay=dict(file=str(path)), **kwargs)


def _triplet_file(tmp_path, kernel_size, seed=0):
    torch.manual_seed(seed)
    reference = randomize_(TripletAttention_MobileNetV2(kernel_size=kernel_size), seed)
    return reference, save_like_authors(reference, tmp_path / f'triplet_mbv2_k{kernel_size}.pth.tar')


def _simam_file(tmp_path, seed=0):
    torch.manual_seed(seed)
    reference = randomize_(SimAMMobileNetV2(e_lambda=0.1), seed)
    return reference, save_like_authors(reference, tmp_path / 'simam_mbv2.pth.tar', best_key='best_acc')


def _ema_model(seed=0):
    torch.manual_seed(seed)
    reference = randomize_(ema_mobilenetv2_100(), seed)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # GroupNorm affine and conv biases: away from their init, so the keys matter
        for name, p in reference.named_parameters():
            if '.ema.' in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.5 + (1.0 if name.endswith('gn.weight') else 0.0))
    return reference


def _timm_training_checkpoint(model, path, model_ema=None):
    # timm's CheckpointSaver._save (timm 0.9, the train.py of their repository).
    args = argparse.Namespace(model='mobilenetv2_100', epochs=400, lr=0.1, model_ema=model_ema is not None)
    checkpoint = {'epoch': 399, 'arch': type(model).__name__.lower(), 'state_dict': model.state_dict(),
                  'optimizer': {'state': {}, 'param_groups': [{'lr': 1e-5, 'params': [0]}]}, 'version': 2,
                  'args': args, 'metric': 74.32}
    if model_ema is not None:
        checkpoint['state_dict_ema'] = model_ema.state_dict()
    torch.save(checkpoint, path)
    return path


@pytest.mark.parametrize('tag,kernel_size', [('landskape_in1k', 7), ('landskape_k3_in1k', 3)])
def test_triplet_file_gives_the_authors_logits(tag, kernel_size, tmp_path, one_thread):
    reference, path = _triplet_file(tmp_path, kernel_size)
    ours = _load(f'mobilenetv2_100_triplet.{tag}', path)
    attn = ours.blocks[4][2].bn3.act.attn
    assert attn.gate_hw.conv.kernel_size == (kernel_size, kernel_size) and attn.gate_cw.bn.momentum == 0.01
    assert ours.blocks[0][0].bn2.act.attn is not None  # the block without expansion has one too
    _same_logits(ours, reference)


def test_triplet_other_kernel_is_refused_by_shape(tmp_path, one_thread):
    _, path = _triplet_file(tmp_path, 3)
    with pytest.raises(ArchitectureMismatchError) as e:
        _load('mobilenetv2_100_triplet.landskape_in1k', path)
    assert 'shape: blocks.0.0.bn2.act.attn.gate_cw.conv.weight: model (1, 2, 7, 7), file (1, 2, 3, 3)' in str(e.value)
    assert 'blocks.6.0.bn3.act.attn.gate_hw.conv.weight' in str(e.value)


def test_simam_file_gives_the_authors_logits(tmp_path, one_thread):
    reference, path = _simam_file(tmp_path)
    ours = _load('mobilenetv2_100_simam.zjjconan_in1k', path)
    assert ours.blocks[0][0].conv_dw.attn.e_lambda == 0.1 and ours.blocks[6][0].conv_dw.attn.e_lambda == 0.1
    _same_logits(ours, reference)


def test_simam_tag_refuses_the_triplet_file_listing_keys(tmp_path, one_thread):
    _, path = _triplet_file(tmp_path, 7)
    with pytest.raises(ArchitectureMismatchError) as e:
        _load('mobilenetv2_100_simam.zjjconan_in1k', path)
    text = str(e.value)
    # Triplet's layout puts the depthwise BN at conv.1.1 (SimAM's at conv.1.2) and adds its gates.
    assert 'missing (model has, file lacks): blocks.1.0.bn2.weight' in text
    assert 'unexpected (file has, model lacks): features.2.conv.1.1.weight' in text
    assert 'features.2.conv.4.ChannelGateH.spatial.conv.weight' in text


def test_ema_training_checkpoint_gives_the_authors_logits(tmp_path, one_thread):
    reference = _ema_model()
    path = _timm_training_checkpoint(reference, tmp_path / 'model_best.pth.tar')
    ours = _load('mobilenetv2_100_ema.yoloonme_in1k', path)  # its argparse args: timm's loader allows them
    assert [f'{s}.{b}' for s, stage in enumerate(ours.blocks) for b, blk in enumerate(stage)
            if getattr(blk, 'se', None) is not None and not isinstance(blk.se, torch.nn.Identity)] == [
        '2.1', '2.2', '3.0', '3.1', '3.2', '3.3', '4.0', '4.1', '4.2', '5.0', '5.1', '5.2', '6.0']
    _same_logits(ours, reference)


def test_ema_plain_state_dict_and_model_ema_weights(tmp_path, one_thread):
    reference = _ema_model(seed=1)
    plain = tmp_path / 'mobilenetv2_100_ema.pth'
    torch.save(reference.state_dict(), plain)  # what timm's clean_checkpoint.py writes
    _same_logits(_load('mobilenetv2_100_ema.yoloonme_in1k', plain), reference)
    # --model-ema: timm takes state_dict_ema over state_dict, as the cfg's notes say.
    trained = _timm_training_checkpoint(_ema_model(seed=2), tmp_path / 'ema.pth.tar', model_ema=reference)
    _same_logits(_load('mobilenetv2_100_ema.yoloonme_in1k', trained), reference)


def test_ema_tag_refuses_plain_timm_mobilenetv2_listing_keys(tmp_path, one_thread):
    path = tmp_path / 'mobilenetv2_100.pth'
    torch.save(timm.create_model('mobilenetv2_100').state_dict(), path)
    with pytest.raises(ArchitectureMismatchError) as e:
        _load('mobilenetv2_100_ema.yoloonme_in1k', path)
    assert 'missing (model has, file lacks): blocks.2.1.se.conv1x1.weight' in str(e.value)
    assert 'blocks.6.0.se.gn.bias' in str(e.value) and '0 unexpected' in str(e.value)


def test_tags_cfgs_name_their_sources():
    expected = {
        'mobilenetv2_100_triplet.landskape_in1k': ('mit', '71.99%', '14iNMa7ygtTwsULsAydKoQuTkJ288hfKs'),
        'mobilenetv2_100_triplet.landskape_k3_in1k': ('mit', '72.62%', '1KIlqPBNLHh4qkdxyojb5gQhM5iB9b61_'),
        'mobilenetv2_100_simam.zjjconan_in1k': ('unknown', '72.36%', '1rRT0UCPeRLPdTCJvv43hvAnGnS49nIWn'),
        'mobilenetv2_100_ema.yoloonme_in1k': ('unknown', '74.32%', 'pan.baidu.com/s/1a1p30h-ZkDUSzKJLTGJSnw'),
    }
    for name, (licence, top1, link) in expected.items():
        cfg = timm.models.get_pretrained_cfg(name)
        assert cfg.license == licence and top1 in cfg.description and link in cfg.notes[0], name
        assert cfg.first_conv == 'conv_stem' and cfg.classifier == 'classifier' and not cfg.url
        assert cfg.paper_ids[0] == 'arXiv:1801.04381' and f'arXiv:{PUBLISHED[name].arxiv}' in (
            *cfg.paper_ids, 'arXiv:')


def test_without_the_file_the_error_says_where_the_authors_publish(tmp_path):
    with pytest.raises(FileNotFoundError, match=r'pan\.baidu\.com/s/1a1p30h-ZkDUSzKJLTGJSnw'):
        _load('mobilenetv2_100_ema.yoloonme_in1k', tmp_path / 'missing.pth')
