"""Checkpoint URLs are downloaded to a file, then loaded with ``weights_only=True``; a crafted
pickle served over http never runs, and the hash a URL's file name carries is checked."""
from __future__ import annotations

import pytest
import torch

from convattn_plugin.checkpoint import (HashMismatchError, UnsafeCheckpointError, cache_path, download_checkpoint,
                                        load_weights, sha256_of)


def test_a_crafted_pickle_at_a_url_is_refused_and_never_runs(served, hub_dir, tmp_path, code_running_pickle):
    root, base = served
    marker = tmp_path / 'marker'
    torch.save({'state_dict': code_running_pickle(marker)}, root / 'evil.pth')
    with pytest.raises(UnsafeCheckpointError, match=r'evil\.pth: refused: the file holds objects other than weights'):
        load_weights(f'{base}/evil.pth')
    assert not marker.exists()
    assert cache_path(f'{base}/evil.pth').is_file()  # it was downloaded, only not unpickled


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


def _counting(monkeypatch):
    """The URLs torch.hub is asked to download, in order."""
    asked = []
    real = torch.hub.download_url_to_file

    def download(url, dst, *args, **kwargs):
        asked.append(url)
        return real(url, dst, *args, **kwargs)

    monkeypatch.setattr(torch.hub, 'download_url_to_file', download)
    return asked


def test_two_urls_of_one_unhashed_name_are_two_cache_entries(served, hub_dir, tmp_path, monkeypatch):
    root, base = served
    (root / 'a').mkdir()
    (root / 'b').mkdir()
    torch.save({'w': torch.ones(2)}, root / 'a' / 'model.pth')
    torch.save({'w': torch.zeros(3)}, root / 'b' / 'model.pth')
    asked = _counting(monkeypatch)
    first = load_weights(f'{base}/a/model.pth')['w']
    second = load_weights(f'{base}/b/model.pth')['w']
    assert asked == [f'{base}/a/model.pth', f'{base}/b/model.pth']  # the second host is asked
    assert torch.equal(first, torch.ones(2)) and torch.equal(second, torch.zeros(3))
    load_weights(f'{base}/a/model.pth')
    assert len(asked) == 2  # the same URL again: its own entry is reused
    assert cache_path(f'{base}/a/model.pth') != cache_path(f'{base}/b/model.pth')


def test_a_hashed_name_keeps_torch_hubs_cache_layout(served, hub_dir, monkeypatch):
    root, base = served
    plain = root / 'plain.pth'
    torch.save({'w': torch.ones(2)}, plain)
    hashed = root / f'w-{sha256_of(plain)[:8]}.pth'
    hashed.write_bytes(plain.read_bytes())
    asked = _counting(monkeypatch)
    assert download_checkpoint(f'{base}/{hashed.name}') == hub_dir / 'checkpoints' / hashed.name
    # Another host with the same hashed name is the same content: timm's and torch.hub's cache entry is reused.
    assert download_checkpoint(f'http://localhost:1/{hashed.name}') == hub_dir / 'checkpoints' / hashed.name
    assert asked == [f'{base}/{hashed.name}']
