"""mmengine training checkpoints under torch >= 2.6 (weights_only=True): allowed exactly."""
from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.logging.history_buffer import HistoryBuffer

import convattn_plugin.mm  # noqa: F401  (applies the allow-list)
from convattn_plugin.mm.checkpoint_compat import history_buffer_getattr


class _GetAttr:
    """Pickles as ``getattr(obj, name)`` (a crafted checkpoint)."""

    def __init__(self, obj, name):
        self.obj, self.name = obj, name

    def __reduce__(self):
        return getattr, (self.obj, self.name)


def test_training_checkpoint_loads_with_weights_only(trained_checkpoint):
    ckpt = torch.load(trained_checkpoint, map_location='cpu', weights_only=True)
    assert {'state_dict', 'optimizer', 'message_hub', 'meta', 'param_schedulers'} <= ckpt.keys()
    scalars = ckpt['message_hub']['log_scalars']
    assert scalars and all(isinstance(v, HistoryBuffer) for v in scalars.values())
    buf = scalars['train/loss']
    assert buf._statistics_methods['mean'] is HistoryBuffer.mean and np.isfinite(buf.mean())


def test_without_the_allow_list_the_same_checkpoint_is_refused(trained_checkpoint):
    # A fresh interpreter that never imports convattn_plugin: torch's default refuses it.
    code = f'import torch; torch.load({str(trained_checkpoint)!r}, map_location="cpu")'
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert 'Unsupported global' in proc.stderr and 'HistoryBuffer' in proc.stderr


def test_real_getattr_is_not_allowed():
    allowed = torch.serialization.get_safe_globals()
    assert getattr not in allowed
    pairs = {name: fn for fn, name in (g for g in allowed if isinstance(g, tuple))}
    assert pairs['builtins.getattr'] is history_buffer_getattr


@pytest.mark.parametrize('name', ['min', 'max', 'current', 'mean'])
def test_history_buffer_statistics_load(tmp_path, name):
    path = tmp_path / 'ok.pth'
    torch.save({'f': _GetAttr(HistoryBuffer, name)}, path)
    assert torch.load(path, weights_only=True)['f'] is getattr(HistoryBuffer, name)


@pytest.mark.parametrize('obj, name', [
    (HistoryBuffer, '__init__'),
    (HistoryBuffer, 'register_statistics'),
    (HistoryBuffer, '__class__'),
    (np.ndarray, 'tofile'),
    (np.dtype, '__subclasses__'),
])
def test_crafted_getattr_is_refused(tmp_path, obj, name):
    path = tmp_path / 'crafted.pth'
    torch.save({'f': _GetAttr(obj, name)}, path)
    with pytest.raises(pickle.UnpicklingError, match='only allows getattr'):
        torch.load(path, weights_only=True)


def test_pretrained_init_cfg_reads_a_training_checkpoint(trained_checkpoint):
    from mmpretrain.registry import MODELS

    backbone = MODELS.build(dict(
        type='ConvAttnBackbone', arch='resnet18_cbam',
        init_cfg=dict(type='Pretrained', checkpoint=str(trained_checkpoint), prefix='backbone.')))
    backbone.init_weights()
    saved = torch.load(trained_checkpoint, map_location='cpu', weights_only=True)['state_dict']
    got = backbone.state_dict()
    assert got.keys() == {k[len('backbone.'):] for k in saved if k.startswith('backbone.')}
    assert all(torch.equal(got[k], saved['backbone.' + k]) for k in got)


def test_load_from_reads_a_training_checkpoint(trained_checkpoint, kit, tmp_path):
    from mmengine.runner import Runner

    cfg = kit.tiny_runner_cfg(kit.CFG_CBAM, tmp_path, load_from=str(trained_checkpoint))
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()  # loads `load_from` first
    assert 0 <= metrics['accuracy/top1'] <= 100
    saved = torch.load(trained_checkpoint, map_location='cpu', weights_only=True)['state_dict']
    got = runner.model.state_dict()
    assert all(torch.equal(got[k], saved[k]) for k in saved)
