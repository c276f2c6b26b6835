"""Safe loading: the hash in a file name is checked, files load without arbitrary unpickling."""
from __future__ import annotations

import pickle

import pytest
import torch
from safetensors.torch import save_file

from convattn_plugin.checkpoint import HashMismatchError, hash_in_name, load_weights, sha256_of


def _hashed_copy(path, tmp_path, digits=8):
    target = tmp_path / f'{path.stem}-{sha256_of(path)[:digits]}{path.suffix}'
    target.write_bytes(path.read_bytes())
    return target


@pytest.mark.parametrize('suffix', ['.pth', '.safetensors'])
def test_hashed_file_loads_and_a_changed_one_is_refused(tmp_path, suffix):
    state = {'w': torch.arange(6.).view(2, 3)}
    plain = tmp_path / f'weights{suffix}'
    if suffix == '.pth':
        torch.save({'state_dict': state, 'meta': {'epoch': 3}}, plain)
    else:
        save_file(state, str(plain))
    hashed = _hashed_copy(plain, tmp_path)
    loaded = load_weights(hashed)
    got = loaded['state_dict']['w'] if suffix == '.pth' else loaded['w']
    torch.testing.assert_close(got, state['w'])

    data = bytearray(hashed.read_bytes())
    data[-1] ^= 0xFF  # one flipped byte
    hashed.write_bytes(bytes(data))
    with pytest.raises(HashMismatchError, match=r'its name says sha256 [0-9a-f]{8}\.\.\., but the file hashes to'):
        load_weights(hashed)


def test_hash_in_name_only_reads_a_trailing_hex_run():
    assert hash_in_name('resnet18_cbam_digits-1a2b3c4d.pth') == '1a2b3c4d'
    assert hash_in_name('a/b/model-0123456789abcdef.safetensors') == '0123456789abcdef'
    assert hash_in_name('resnet18_cbam.pth') is None
    assert hash_in_name('epoch_4.pth') is None
    assert hash_in_name('model-xyz12345.pth') is None


def test_a_pickle_with_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ('this must never run',))

    path = tmp_path / 'evil.pth'
    with open(path, 'wb') as f:
        pickle.dump({'state_dict': Evil()}, f)
    with pytest.raises(pickle.UnpicklingError, match='Weights only load failed'):
        load_weights(path)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='no checkpoint file at .*nothing.pth'):
        load_weights(tmp_path / 'nothing.pth')
