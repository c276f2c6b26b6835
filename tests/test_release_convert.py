"""mmpretrain <-> timm conversion for every model family, and what it refuses.

Round trips mm -> timm -> mm on untrained models (random weights prove the mapping as well as
trained ones, in a fraction of the time); :mod:`tests.test_release` covers a trained run.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip('mmpretrain')

import timm  # noqa: E402

import convattn_plugin.mm  # noqa: E402,F401
from convattn_plugin.release import (ArchitectureMismatchError, ConversionError, build_mm_model,  # noqa: E402
                                     check_state_dict, convert_mm_to_timm, convert_timm_to_mm, diff_state_dict,
                                     load_mm_release, read_metrics, sanitize_meta, spec_from_mm_model,
                                     spec_from_timm, timm_create_kwargs, timm_data_config)
from convattn_plugin.release.preprocessing import mm_preprocessing  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CFG_CBAM = REPO / 'configs/resnet_cbam/resnet18-cbam_1xb32_digits.py'
CFG_PLAIN = REPO / 'configs/resnet/resnet18-plain_1xb32_digits.py'
CFG_VGG = REPO / 'configs/vgg_localattn/vgg16-localattn_1xb32_digits.py'
# A small VGG with BatchNorm and a two-layer GAP + MLP head (the config's head type).
VGG_SMALL = {'model.backbone.arch': 'vgg11_bn_se', 'model.head.mid_channels': [64, 32]}
ATOL = 1e-5

FAMILIES = {
    'resnet18_cbam': (CFG_CBAM, None),
    'resnet18 (timm\'s own)': (CFG_PLAIN, None),
    'vgg11_bn_se + StackedLinearClsHead': (CFG_VGG, VGG_SMALL),
}


pytestmark = pytest.mark.usefixtures('one_thread')


def _training_checkpoint(config, options, path: Path) -> Path:
    """A checkpoint shaped like mmengine's: weights, meta with numpy values, optimizer, message hub."""
    model = build_mm_model(config, options)
    with torch.no_grad():  # non-trivial BN statistics, so that buffers are compared too
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(epoch=np.int64(2), seed=0, dataset_meta=dict(classes=tuple('0123456789')),
                              lr=np.array([0.1, 0.01])),
                    optimizer=dict(state={}, param_groups=[])), path)
    return path


def _logits(model, x, mm: bool) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(x, mode='tensor') if mm else model.eval()(x)


@pytest.mark.parametrize('family', list(FAMILIES))
def test_round_trip_same_weights_same_logits(family, tmp_path):
    config, options = FAMILIES[family]
    ckpt = _training_checkpoint(config, options, tmp_path / 'epoch_2.pth')
    mm_model = build_mm_model(config, options)
    mm_model.load_state_dict(torch.load(ckpt, map_location='cpu', weights_only=True)['state_dict'])
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    expected = _logits(mm_model, x, mm=True)

    folder = convert_mm_to_timm(config, ckpt, tmp_path / 'timm', cfg_options=options)
    for timm_model in (timm.create_model(f'local-dir:{folder}', pretrained=True),
                       timm.create_model(**timm_create_kwargs(folder))):
        torch.testing.assert_close(_logits(timm_model, x, mm=False), expected, atol=ATOL, rtol=0)

    config2, ckpt2 = convert_timm_to_mm(folder, tmp_path / 'mm', stem='round_trip')
    back = load_mm_release(ckpt2, config2)  # checks the hash in the name, loads strictly
    torch.testing.assert_close(_logits(back, x, mm=True), expected, atol=ATOL, rtol=0)
    before, after = mm_model.state_dict(), back.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert list(back._dataset_meta['classes']) == list('0123456789')


def test_convert_tool_both_directions(tmp_path):
    ckpt = _training_checkpoint(CFG_CBAM, None, tmp_path / 'epoch_1.pth')
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(REPO))
    run = lambda *a: subprocess.run([sys.executable, 'tools/convert.py', *map(str, a)], cwd=REPO, env=env,  # noqa: E731
                                    capture_output=True, text=True, timeout=300)
    to_timm = run('mm2timm', CFG_CBAM, ckpt, tmp_path / 'timm')
    assert to_timm.returncode == 0, to_timm.stderr[-3000:]
    to_mm = run('timm2mm', tmp_path / 'timm', tmp_path / 'mm', '--name', 'r18cbam')
    assert to_mm.returncode == 0, to_mm.stderr[-3000:]
    (pth,) = (tmp_path / 'mm').glob('r18cbam_*-*.pth')
    saved = torch.load(ckpt, map_location='cpu', weights_only=True)['state_dict']
    converted = torch.load(pth, map_location='cpu', weights_only=True)['state_dict']
    assert saved.keys() == converted.keys() and all(torch.equal(saved[k], converted[k]) for k in saved)
    # Another architecture: a clear error, not a traceback.
    refused = run('mm2timm', CFG_VGG, ckpt, tmp_path / 'bad')
    assert refused.returncode == 1
    assert 'convert.py: error:' in refused.stderr and 'another architecture' in refused.stderr
    assert 'unexpected: backbone.timm_model.conv1.weight' in refused.stderr


# --------------------------------------------------------------------------------------
# Refusals
# --------------------------------------------------------------------------------------

def test_checkpoint_of_another_architecture_lists_keys(tmp_path):
    ckpt = _training_checkpoint(CFG_CBAM, None, tmp_path / 'cbam.pth')
    with pytest.raises(ArchitectureMismatchError) as info:
        convert_mm_to_timm(CFG_PLAIN, ckpt, tmp_path / 'out')
    report = info.value.report
    assert report.unexpected_keys and all('.se.' in k for k in report.unexpected_keys)
    assert not report.missing_keys and not report.mismatched_keys
    assert 'unexpected: backbone.timm_model.layer1.0.se.' in str(info.value)
    assert not (tmp_path / 'out').exists()  # nothing written
    # Other number of classes: shape mismatch, with both shapes.
    with pytest.raises(ArchitectureMismatchError, match=r'head\.fc\.weight: \(10, 512\) in the checkpoint, '
                                                        r'\(7, 512\) in the model'):
        convert_mm_to_timm(CFG_CBAM, ckpt, tmp_path / 'out', cfg_options={'model.head.num_classes': 7})


def test_ema_weights_are_the_default():
    from convattn_plugin.release import extract_state_dict

    # mmengine's EMAHook: averaged weights in state_dict, raw ones in ema_state_dict (module.-prefixed).
    ckpt = dict(state_dict={'w': torch.ones(1)}, ema_state_dict={'module.w': torch.zeros(1), 'steps': torch.tensor(3)})
    assert extract_state_dict(ckpt)['w'].item() == 1
    assert extract_state_dict(ckpt, use_ema=False) == {'w': torch.zeros(1)}


def test_diff_state_dict_reports_every_kind():
    ref = {'a': torch.zeros(2), 'b': torch.zeros(3), 'c': torch.zeros(1)}
    report = diff_state_dict(ref, {'a': torch.zeros(2), 'b': torch.zeros(4), 'd': torch.zeros(1)})
    assert (report.loaded, report.mismatched_keys, report.unexpected_keys, report.missing_keys) == \
        (['a'], ['b'], ['d'], ['c'])
    many = {f'k{i}': torch.zeros(1) for i in range(40)}
    with pytest.raises(ArchitectureMismatchError, match=r'\.\.\. and 15 more unexpected keys'):
        check_state_dict({}, many)


def test_cifar_stem_is_refused():
    model = build_mm_model(CFG_CBAM, {'model.backbone.stem': 'cifar'})
    with pytest.raises(ConversionError, match=r"stem='cifar'.*timm's ResNet has no 3x3 stride-1 stem"):
        spec_from_mm_model(model)


def test_plain_vgg_and_other_heads_are_refused():
    with pytest.raises(ConversionError, match="plain vgg11 .* timm's own vgg11"):
        spec_from_mm_model(build_mm_model(CFG_VGG, {'model.backbone.arch': 'vgg11', 'model.head.mid_channels': [8]}))
    with pytest.raises(ConversionError, match='head StackedLinearClsHead on a resnet backbone'):
        spec_from_mm_model(build_mm_model(CFG_CBAM, {'model.head.type': 'StackedLinearClsHead',
                                                     'model.head.mid_channels': [8]}))
    with pytest.raises(ConversionError, match="timm's VGG head .* has no mmpretrain equivalent"):
        spec_from_timm('vgg16_se', {'num_classes': 10})
    with pytest.raises(ConversionError, match='has no mmpretrain layout'):
        spec_from_timm('efficientnet_b0', {})


# --------------------------------------------------------------------------------------
# VGG's GAP + MLP head in timm (convattn_plugin.models.attn_vgg, head_mlp)
# --------------------------------------------------------------------------------------

def test_vgg_head_mlp_is_the_mm_head():
    model = timm.create_model('vgg11_se', num_classes=5, head_mlp=(32, 16), drop_rate=0.5).eval()
    keys = [k for k in model.state_dict() if not k.startswith('features.')]
    assert keys == ['pre_logits.layers.0.fc.weight', 'pre_logits.layers.0.fc.bias',
                    'pre_logits.layers.1.fc.weight', 'pre_logits.layers.1.fc.bias', 'head.fc.weight', 'head.fc.bias']
    x = torch.randn(2, 3, 48, 48)  # any size: pooling comes first, no 7x7 window
    with torch.no_grad():
        feats = model.forward_features(x)
        assert model.forward_head(feats, pre_logits=True).shape == (2, 16) == (2, model.head_hidden_size)
        assert model(x).shape == (2, 5)
    assert model.pre_logits.layers[0].drop.p == 0.5 and model.head.drop.p == 0.0
    model.reset_classifier(3)
    assert model(x).shape == (2, 3)
    assert timm.create_model('vgg11_se', head_mlp=()).head.fc.in_features == 512  # GAP, then the classifier
    with pytest.raises(ValueError, match='head_mlp must be a sequence of positive ints'):
        timm.create_model('vgg11_se', head_mlp=(0,))


# --------------------------------------------------------------------------------------
# Preprocessing, metrics and meta
# --------------------------------------------------------------------------------------

def test_imagenet_preprocessing_maps_both_ways():
    from mmengine.config import Config

    cfg = Config.fromfile(str(REPO / 'configs/resnet_cbam/resnet18-cbam_8xb32_in1k.py'))
    data = timm_data_config(cfg)
    assert data['input_size'] == (3, 224, 224) and data['crop_mode'] == 'center'
    assert data['crop_pct'] == pytest.approx(224 / 256) and data['interpolation'] == 'bilinear'
    assert data['mean'] == pytest.approx((0.485, 0.456, 0.406), abs=1e-3)
    pre, pipeline = mm_preprocessing(data, 1000)
    assert [t['type'] for t in pipeline] == ['ResizeEdge', 'CenterCrop', 'PackInputs']
    assert pipeline[0]['scale'] == 256 and pipeline[1]['crop_size'] == (224, 224)
    assert pre['mean'] == pytest.approx(cfg.data_preprocessor.mean) and pre['to_rgb']


def test_read_metrics_prefers_the_checkpoints_run(tmp_path):
    def log(run: str, records: list, test: bool = False):
        f = tmp_path / run / (f'{run}.json' if test else 'vis_data/scalars.json')
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text('\n'.join(json.dumps(r) for r in records) + '\n')

    assert read_metrics(tmp_path) == ({}, None)
    log('20260101_000000', [{'loss': 1.0, 'step': 1}, {'accuracy/top1': 50.0, 'step': 1},
                            {'accuracy/top1': 60.0, 'step': 2}])
    log('20260102_000000', [{'accuracy/top1': 70.0}], test=True)  # a later test run
    assert read_metrics(tmp_path)[0] == {'accuracy/top1': 70.0}
    metrics, source = read_metrics(tmp_path, 'resnet18-cbam_1xb32_digits_20260101_000000')
    assert metrics == {'accuracy/top1': 60.0} and source.name == 'scalars.json'


def test_sanitize_meta_keeps_plain_data_only():
    from mmengine.logging import HistoryBuffer

    dropped: list[str] = []
    clean = sanitize_meta(dict(epoch=np.int64(3), acc=np.float32(0.5), lr=np.float64(0.1), name=np.str_('a'),
                               arr=np.arange(2), t=torch.tensor([1.0]), classes=('a', 'b'), hist=HistoryBuffer(),
                               nested={'x': [np.int32(1), HistoryBuffer()]}), 'meta', dropped)
    assert clean == dict(epoch=3, acc=0.5, lr=0.1, name='a', arr=[0, 1], t=[1.0], classes=('a', 'b'),
                         nested={'x': [1]})
    # np.float64 is a float and np.str_ a str, yet they pickle as numpy globals: plain types only.
    assert [type(clean[k]) for k in ('epoch', 'acc', 'lr', 'name')] == [int, float, float, str]
    assert dropped == ['meta.hist (HistoryBuffer)', 'meta.nested.x[1] (HistoryBuffer)']
