"""Writes that leave either the old file or the complete new one, never a torn one."""
from __future__ import annotations

import os
import tempfile
from typing import Callable

__all__ = ['atomic_write', 'atomic_write_text']


def atomic_write(path: str, write: Callable[[str], None]) -> str:
    """Call ``write(tmp_path)`` for a temporary file beside ``path``, then move it into place.

    The folder is created if missing. Returns ``path``.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    root, ext = os.path.splitext(os.path.basename(path))
    fd, tmp = tempfile.mkstemp(prefix=f'.{root}.', suffix=f'.tmp{ext}', dir=folder)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, 'rb') as f:  # on disk before the rename: a crash leaves old or new, never empty
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it 0600; an ordinary file instead
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str, text: str) -> str:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    def write(tmp: str) -> None:
        with open(tmp, 'w', encoding='utf-8', newline='') as f:
            f.write(text)
    return atomic_write(path, write)
