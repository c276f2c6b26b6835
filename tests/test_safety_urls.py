"""Checkpoint URLs are downloaded to a file, then loaded with ``weights_only=True``; a crafted
pickle served over http never runs, and the hash a URL's file name carries is checked."""
from __future__ import annotations

import pytest
import torch

from convattn_plugin.checkpoint import HashMismatchError, UnsafeCheckpointError, load_weights, sha256_of


def test_a_crafted_pickle_at_a_url_is_refused_and_never_runs(served, hub_dir, tmp_path, code_running_pickle):
    root, base = served
    marker = tmp_path / 'marker'
    torch.save({'state_dict': code_running_pickle(marker)}, root / 'evil.pth')
    with pytest.raises(UnsafeCheckpointError, match=r'evil\.pth: refused: the file holds objects other than weights'):
        load_weights(f'{base}/evil.pth')
    assert not marker.exists()
    assert (hub_dir / 'checkpoints' / 'evil.pth').is_file()  # it was downloaded, only not unpickled


def test_weights_at_a_url_load_and_the_hash_in_the_name_is_checked(served, hub_dir):
    root, base = served
    state = {'w': torch.arange(6.).view(2, 3)}
    plain = root / 'plain.pth'
    torch.save({'state_dict': state}, plain)
    hashed = root / f'good-{sha256_of(plain)[:8]}.pth'
    hashed.write_bytes(plain.read_bytes())
    torch.testing.assert_close(load_weights(f'{base}/{hashed.name}')['state_dict']['w'], state['w'])

    wrong = root / 'bad-0123abcd.pth'
    wrong.write_bytes(plain.read_bytes())
    with pytest.raises(HashMismatchError, match=r'bad-0123abcd\.pth: its name says sha256 0123abcd'):
        load_weights(f'{base}/{wrong.name}')
    assert not (hub_dir / 'checkpoints' / wrong.name).exists()  # a bad download is not kept for reuse
