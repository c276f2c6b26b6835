"""The one temp-then-rename writer: old or complete new file, never a torn one or a stray temp."""
from __future__ import annotations

import hashlib
import os
import stat

import pytest

from convattn_plugin.atomic_files import atomic_write, atomic_write_named, atomic_write_text


def test_a_failing_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / 'report.md'
    path.write_text('old')

    def half_then_fail(tmp: str) -> None:
        with open(tmp, 'w') as f:
            f.write('new, but torn')
        raise RuntimeError('disk full')

    with pytest.raises(RuntimeError, match='disk full'):
        atomic_write(path, half_then_fail)
    assert path.read_text() == 'old'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['report.md']


def test_text_replaces_whole_with_ordinary_permissions(tmp_path):
    path = tmp_path / 'new' / 'folder' / 'r.txt'
    assert atomic_write_text(path, 'ü\n') == str(path)
    assert path.read_bytes() == 'ü\n'.encode()
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600


def test_named_by_its_bytes(tmp_path):
    final = atomic_write_named(tmp_path, lambda tmp: open(tmp, 'wb').write(b'weights'),
                               lambda tmp: hashlib.sha256(open(tmp, 'rb').read()).hexdigest()[:8] + '.pth')
    assert final.name == hashlib.sha256(b'weights').hexdigest()[:8] + '.pth'
    assert [p.name for p in tmp_path.iterdir()] == [final.name]
