"""Writes that leave either the old file or the complete new one, never a torn one.

The one place in the package that writes a file under a temporary name and renames it: weight
downloads, checkpoints, ``config.json`` rewrites, reports and plots all go through here.
(Whole release folders are staged and moved by :mod:`convattn_plugin.release.staging`.)
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable, Union

__all__ = ['atomic_write', 'atomic_write_named', 'atomic_write_text']

PathLike = Union[str, os.PathLike]


def atomic_write_named(folder: PathLike, write: Callable[[str], None], name_of: Callable[[str], str],
                       stem: str = 'file') -> Path:
    """Call ``write(tmp_path)`` for a temporary file in ``folder``, then rename it to ``name_of(tmp_path)``.

    For files whose name depends on their bytes (``<stem>_<date>-<sha8>.pth``). The folder is
    created if missing; the file is on disk (fsync) before the rename, gets the ordinary
    permissions of the umask, and the temporary file is removed if anything fails.
    Returns the final path.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{stem}.', suffix='.tmp', dir=folder)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, 'rb') as f:  # on disk before the rename: a crash leaves old or new, never empty
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it 0600; an ordinary file instead
        final = folder / name_of(tmp)
        os.replace(tmp, final)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return final


def atomic_write(path: PathLike, write: Callable[[str], None]) -> str:
    """Call ``write(tmp_path)`` for a temporary file beside ``path``, then move it into place.

    The folder is created if missing. Returns ``path`` (as a string).
    """
    path = Path(os.path.abspath(path))
    atomic_write_named(path.parent, write, lambda _: path.name, stem=path.stem)
    return str(path)


def atomic_write_text(path: PathLike, text: str) -> str:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    def write(tmp: str) -> None:
        with open(tmp, 'w', encoding='utf-8', newline='') as f:
            f.write(text)
    return atomic_write(path, write)
