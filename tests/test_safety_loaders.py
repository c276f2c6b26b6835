"""Every loader of weight files reads through the one reader (``convattn_plugin.checkpoint.load_weights``):
an empty file, a folder, a compressed torch archive and NaN / inf weights get the same clear error
from ``load_backbone_weights``, ``load_mm_release`` and ``tools/vis_attention.py``."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import timm
import torch

import convattn_plugin  # noqa: F401  (registers the models)
from convattn_plugin.checkpoint import CompressedCheckpointError, NonFiniteWeightsError
from convattn_plugin.models import load_backbone_weights

REPO = Path(__file__).resolve().parents[1]


def _nan_state_dict(model_name: str, key: str, **kwargs) -> dict[str, torch.Tensor]:
    state = timm.create_model(model_name, **kwargs).state_dict()
    state[key] = state[key].clone()
    state[key].view(-1)[0] = float('nan')
    return state


def test_load_backbone_weights_names_an_empty_file(tmp_path):
    empty = tmp_path / 'resnet18.pth'
    empty.write_bytes(b'')
    with pytest.raises(ValueError, match=r"checkpoint '.*resnet18\.pth' is empty \(0 bytes\)"):
        load_backbone_weights(timm.create_model('resnet18_se'), empty)


def test_load_backbone_weights_names_a_folder(tmp_path):
    with pytest.raises(IsADirectoryError, match=r"checkpoint '.*' is a directory; expected a checkpoint file"):
        load_backbone_weights(timm.create_model('resnet18_se'), tmp_path)


@pytest.mark.parametrize('suffix', ['.pth', '.safetensors'])
def test_load_backbone_weights_refuses_nan_weights_by_key(tmp_path, suffix):
    state = _nan_state_dict('resnet18', 'layer2.0.conv1.weight')
    path = tmp_path / f'resnet18{suffix}'
    if suffix == '.safetensors':
        from safetensors.torch import save_file
        save_file(state, str(path))
    else:
        torch.save({'state_dict': state}, path)
    model = timm.create_model('resnet18_se')
    before = model.layer2[0].conv1.weight.detach().clone()
    with pytest.raises(NonFiniteWeightsError, match=r'resnet18\.(pth|safetensors) has non-finite values .* '
                                                    r'layer2\.0\.conv1\.weight'):
        load_backbone_weights(model, path)
    assert torch.equal(model.layer2[0].conv1.weight, before)  # nothing was loaded


def test_load_backbone_weights_refuses_nan_in_a_state_dict_too():
    with pytest.raises(NonFiniteWeightsError, match=r'the state dict has non-finite values .* fc\.bias'):
        load_backbone_weights(timm.create_model('resnet18_se'), _nan_state_dict('resnet18', 'fc.bias'))


def test_load_backbone_weights_refuses_a_compressed_archive(tmp_path):
    plain = tmp_path / 'plain.pth'
    torch.save(timm.create_model('resnet18').state_dict(), plain)
    packed = tmp_path / 'packed.pth'
    with zipfile.ZipFile(plain) as z, zipfile.ZipFile(packed, 'w') as out:
        for info in z.infolist():
            out.writestr(info.filename, z.read(info), compress_type=zipfile.ZIP_DEFLATED)
    with pytest.raises(CompressedCheckpointError, match=r'packed\.pth: refused before loading'):
        load_backbone_weights(timm.create_model('resnet18_se'), packed)


def test_load_mm_release_refuses_nan_weights(tmp_path, one_thread):
    pytest.importorskip('mmpretrain', reason='needs the mm extra: pip install "convattn_plugin[mm]"')
    from convattn_plugin.release import build_mm_model, load_mm_release

    config = REPO / 'configs/resnet_cbam/resnet18-cbam_1xb32_digits.py'
    state = build_mm_model(config).state_dict()
    state['head.fc.weight'][0, 0] = float('inf')
    path = tmp_path / 'epoch_1.pth'
    torch.save({'state_dict': state, 'meta': {}}, path)
    with pytest.raises(NonFiniteWeightsError, match=r'epoch_1\.pth has non-finite values .* head\.fc\.weight'):
        load_mm_release(path, config)


def _vis(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / 'tools/vis_attention.py'), *args], capture_output=True,
                          text=True, env=dict(os.environ, OMP_NUM_THREADS='1'), timeout=300)


def test_vis_attention_refuses_a_state_dict_with_nan_in_one_line(tmp_path):
    pytest.importorskip('matplotlib', reason='needs the tools extra: pip install "convattn_plugin[tools]"')
    path = tmp_path / 'w.pth'
    torch.save(_nan_state_dict('resnet18_se', 'layer1.0.conv1.weight', num_classes=10), path)
    out = tmp_path / 'v.png'
    done = _vis('--model', 'resnet18_se', '--num-classes', '10', '--checkpoint', str(path), '--img-size', '32',
                '--image', 'flower', '--no-cam', '--out', str(out))
    assert done.returncode == 2, done.stdout + done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert 'w.pth has non-finite values' in done.stderr and 'layer1.0.conv1.weight' in done.stderr
    assert not out.exists()


def test_vis_attention_refuses_a_timm_folder_with_nan(tmp_path):
    pytest.importorskip('matplotlib', reason='needs the tools extra: pip install "convattn_plugin[tools]"')
    model = timm.create_model('resnet18_se', num_classes=10)
    with torch.no_grad():
        model.fc.bias[1] = float('nan')
    folder = tmp_path / 'timm'
    timm.models.save_for_hf(model, str(folder), safe_serialization=True)
    out = tmp_path / 'v.png'
    done = _vis('--checkpoint', str(folder), '--img-size', '32', '--image', 'flower', '--no-cam', '--out', str(out))
    assert done.returncode == 2, done.stdout + done.stderr
    assert 'model.safetensors has non-finite values' in done.stderr and 'fc.bias' in done.stderr
    assert not out.exists()
