"""Clear errors for checkpoint paths that are not weights: empty files, folders, NaN/inf values,
compressed torch archives; only a real hash pattern in a file name is checked (a date stamp is
not a hash)."""
from __future__ import annotations

import zipfile

import pytest
import torch

from convattn_plugin.checkpoint import (CompressedCheckpointError, NonFiniteWeightsError, check_finite, hash_in_name,
                                        load_weights)


def test_an_empty_file_is_named_with_what_is_accepted(tmp_path):
    empty = tmp_path / 'epoch_3.pth'
    empty.write_bytes(b'')
    with pytest.raises(ValueError, match=r"checkpoint '.*epoch_3\.pth' is empty \(0 bytes\).*Expected a checkpoint file"):
        load_weights(empty)


def test_a_directory_is_named_with_what_is_accepted(tmp_path):
    with pytest.raises(IsADirectoryError, match=r"checkpoint '.*' is a directory; expected a checkpoint file"):
        load_weights(tmp_path)


def test_non_finite_weights_are_refused_with_their_keys():
    state = {'ok': torch.ones(2), 'a.weight': torch.tensor([1., float('nan')]),
             'b.bias': torch.tensor([float('inf')]), 'steps': torch.tensor(3)}
    with pytest.raises(NonFiniteWeightsError, match=r'x\.pth has non-finite values \(NaN or inf\) in 2 tensor\(s\): '
                                                    r'a\.weight, b\.bias'):
        check_finite(state, 'x.pth')
    check_finite({'ok': torch.ones(2), 'steps': torch.tensor(3)})


@pytest.mark.parametrize('name, digest', [
    ('resnet18-5c106cde.pth', '5c106cde'),            # torch.hub's own file
    ('model-0123456789abcdef.safetensors', '0123456789abcdef'),
    ('run_20240131-00112233.pth', '00112233'),        # mmpretrain: date, then an all-digit hash
    ('resnet50-20240131.pth', None),                  # a date
    ('resnet50-202401311230.pth', None),              # a date and time
    ('resnet50-20241399.pth', '20241399'),            # no such date: a hash
    ('epoch_4.pth', None),
    ('model-xyz12345.pth', None),
    ('model-1a2b3c4d.txt', None),
])
def test_only_a_real_hash_pattern_is_a_hash(name, digest):
    assert hash_in_name(name) == digest
    assert hash_in_name(f'https://example.org/w/{name}?x=1') == digest


def test_a_date_stamped_file_loads_unchecked(tmp_path):
    path = tmp_path / 'resnet50-20240131.pth'
    torch.save({'w': torch.ones(1)}, path)
    assert torch.equal(load_weights(path)['w'], torch.ones(1))


def _recompressed(source, target, inflate_to: int = 0):
    """``source`` (a torch.save file) with its ``data.pkl`` deflated, padded after the pickle's STOP
    opcode with ``inflate_to`` zero bytes (what a crafted file would inflate to); other members stored."""
    with zipfile.ZipFile(source) as z, zipfile.ZipFile(target, 'w') as out:
        for info in z.infolist():
            data = z.read(info)
            if info.filename.endswith('/data.pkl'):
                out.writestr(info.filename, data + b'\0' * inflate_to, compress_type=zipfile.ZIP_DEFLATED)
            else:
                out.writestr(info, data)
    return target


def test_a_compressed_member_is_refused_before_torch_load_reads_it(tmp_path, monkeypatch):
    plain = tmp_path / 'plain.pth'
    torch.save({'w': torch.ones(3)}, plain)
    bomb = _recompressed(plain, tmp_path / 'bomb.pth', inflate_to=64 << 20)  # 64 MiB of zeros: ~64 KB on disk
    assert bomb.stat().st_size < 1 << 20
    loads = []
    monkeypatch.setattr(torch, 'load', lambda *a, **k: loads.append(a) or {})
    with pytest.raises(CompressedCheckpointError, match=r'bomb\.pth: refused before loading: 1 compressed member\(s\): '
                                                        r'plain/data\.pkl \(\d+ bytes, 6710\d{4} declared inflated\)'):
        load_weights(bomb)
    assert loads == []  # torch never read (and inflated) it


def test_a_file_as_torch_save_wrote_it_loads(tmp_path):
    path = tmp_path / 'plain.pth'
    torch.save({'state_dict': {'w': torch.ones(3)}}, path)
    assert torch.equal(load_weights(path)['state_dict']['w'], torch.ones(3))
    legacy = tmp_path / 'legacy.pth'  # torch's format before 1.6: no zip members at all
    torch.save({'w': torch.ones(2)}, legacy, _use_new_zipfile_serialization=False)
    assert torch.equal(load_weights(legacy)['w'], torch.ones(2))


@pytest.mark.parametrize('wrap', ['state_dict', 'model', 'state_dict_ema', None])
def test_load_weights_refuses_non_finite_weights_in_every_wrapper(tmp_path, wrap):
    state = {'a.weight': torch.tensor([1., float('inf')]), 'n': torch.tensor(2)}
    path = tmp_path / 'diverged.pth'
    torch.save({wrap: state, 'epoch': 3} if wrap else state, path)
    with pytest.raises(NonFiniteWeightsError, match=r'diverged\.pth.* has non-finite values .* a\.weight'):
        load_weights(path)


def test_safetensors_with_nan_are_refused(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / 'model.safetensors'
    save_file({'w': torch.tensor([float('nan')])}, str(path))
    with pytest.raises(NonFiniteWeightsError, match=r'model\.safetensors has non-finite values .* w'):
        load_weights(path)
