"""``resnet50_se.timm_a1_in1k``: ``pretrained=True`` fetches timm's own ``seresnet50.a1_in1k`` file as timm does.

Offline: the Hugging Face hub cache is filled beforehand in the hub's own layout
(``models--timm--seresnet50.a1_in1k/{refs/main, snapshots/<commit>/model.safetensors -> blobs/<sha256>}``)
with timm's ``seresnet50`` at random weights, and ``HF_HUB_OFFLINE=1`` forbids the network.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import timm
import torch

import convattn_plugin  # noqa: F401  (registers the models and tags)
from convattn_plugin.checkpoint import HashMismatchError
from convattn_plugin.models.published_weights import PUBLISHED
from convattn_plugin.models.published_weights.timm_cfgs import check_hub_cached_file

NAME = 'resnet50_se.timm_a1_in1k'
HUB_ID = 'timm/seresnet50.a1_in1k'
COMMIT = 'c0ffee' * 6 + 'c0ff'  # 40 hex digits, as the hub's commit ids


def fill_hub_cache(hub_cache: Path, repo_id: str, filename: str, content: bytes, commit: str = COMMIT) -> Path:
    """Write ``content`` where huggingface_hub keeps ``repo_id``'s ``filename`` of revision ``main``."""
    repo = hub_cache / f"models--{repo_id.replace('/', '--')}"
    blob = repo / 'blobs' / hashlib.sha256(content).hexdigest()  # an LFS file's blob: its sha256
    blob.parent.mkdir(parents=True)
    blob.write_bytes(content)
    snapshot = repo / 'snapshots' / commit / filename
    snapshot.parent.mkdir(parents=True)
    snapshot.symlink_to(os.path.relpath(blob, snapshot.parent))
    (repo / 'refs').mkdir()
    (repo / 'refs' / 'main').write_text(commit)
    return snapshot


def test_cfg_is_timms_own_for_seresnet50_a1():
    ours, theirs = timm.models.get_pretrained_cfg(NAME), timm.models.get_pretrained_cfg('seresnet50.a1_in1k')
    assert ours.hf_hub_id == theirs.hf_hub_id == HUB_ID and ours.url == theirs.url and not ours.file
    for key in ('interpolation', 'crop_pct', 'test_input_size', 'test_crop_pct', 'mean', 'std', 'license'):
        assert getattr(ours, key) == getattr(theirs, key), key
    assert 'pretrained=True fetches model.safetensors' in ours.notes[0] and 'hub cache' in ours.notes[0]


_OFFLINE_SCRIPT = textwrap.dedent('''
    import sys
    import timm, torch
    from safetensors.torch import load_file
    import convattn_plugin  # noqa: F401
    reference = timm.create_model('seresnet50')
    reference.load_state_dict(load_file(sys.argv[1]))
    ours = timm.create_model('resnet50_se.timm_a1_in1k', pretrained=True)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, got = reference.eval()(x), ours.eval()(x)
    assert expected.abs().max() > 1e-3
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    print('same logits', ours.pretrained_cfg['hf_hub_id'])
''')


def _random_seresnet50_file(path: Path) -> bytes:
    from published_reference import randomize_
    from safetensors.torch import save_file

    torch.manual_seed(0)
    save_file(randomize_(timm.create_model('seresnet50')).state_dict(), str(path))
    return path.read_bytes()


def test_pretrained_true_reads_the_hub_cache_offline(tmp_path, one_thread):
    content = _random_seresnet50_file(tmp_path / 'model.safetensors')
    fill_hub_cache(tmp_path / 'hf' / 'hub', HUB_ID, 'model.safetensors', content)
    env = dict(os.environ, HF_HOME=str(tmp_path / 'hf'), HF_HUB_OFFLINE='1', OMP_NUM_THREADS='1')
    env.pop('HF_HUB_CACHE', None)
    env.pop('HUGGINGFACE_HUB_CACHE', None)
    run = subprocess.run([sys.executable, '-c', _OFFLINE_SCRIPT, str(tmp_path / 'model.safetensors')],
                         env=env, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    assert f'same logits {HUB_ID}' in run.stdout


def test_pretrained_cfg_overlay_file_still_wins_over_the_hub(tmp_path, monkeypatch, one_thread):
    import huggingface_hub.file_download as hub_download

    def no_hub(*args, **kwargs):
        raise AssertionError('the hub was asked although a file was given')
    monkeypatch.setattr(hub_download, 'hf_hub_download', no_hub)
    monkeypatch.setattr(timm.models._hub, 'hf_hub_download', no_hub)
    from safetensors.torch import load_file

    path = tmp_path / 'model.safetensors'
    _random_seresnet50_file(path)
    ours = timm.create_model(NAME, pretrained=True, pretrained_cfg_overlay=dict(file=str(path)))
    torch.testing.assert_close(ours.layer4[2].se.fc2.weight, load_file(str(path))['layer4.2.se.fc2.weight'])


def test_a_damaged_cached_file_is_refused_before_timm_reads_it(tmp_path, monkeypatch):
    content = _random_seresnet50_file(tmp_path / 'model.safetensors')
    snapshot = fill_hub_cache(tmp_path / 'hub', HUB_ID, 'model.safetensors', content)
    blob = snapshot.resolve()
    blob.write_bytes(content[:-8] + b'\0' * 8)  # same size, other bytes: what a torn copy looks like
    reads = []
    monkeypatch.setattr(timm.models._hub, 'hf_hub_download', lambda *a, **k: reads.append(a))
    with pytest.raises(HashMismatchError, match=rf'names this file by its sha256 {blob.name}.*delete'):
        timm.create_model(NAME, pretrained=True, cache_dir=str(tmp_path / 'hub'))
    assert reads == []


def test_hub_cache_check(tmp_path):
    assert check_hub_cached_file(HUB_ID, 'model.safetensors', cache_dir=tmp_path) is None  # nothing cached
    snapshot = fill_hub_cache(tmp_path, HUB_ID, 'model.safetensors', b'not really weights')
    assert check_hub_cached_file(HUB_ID, 'model.safetensors', cache_dir=tmp_path) == str(snapshot)
    fill_hub_cache(tmp_path / 'other', HUB_ID, 'model.safetensors', b'')
    with pytest.raises(ValueError, match='empty'):
        check_hub_cached_file(HUB_ID, 'model.safetensors', cache_dir=tmp_path / 'other')


def test_only_the_timm_tag_names_a_hub_file():
    assert [n for n, e in PUBLISHED.items() if e.cfg.get('hf_hub_id')] == [NAME]
