"""The one writer of release folders: staged beside the target, then moved into place whole.

Every folder of release files the package writes (:func:`~.publish.publish`,
:func:`~.published.convert_published`, ``tools/convert.py``'s two directions) goes through
:func:`staged_folder`::

    out = check_out_dir(out_dir, overwrite)    # before any work: a link, a file, a kept release
    with staged_folder(out) as staged:         # `.<name>.tmp-XXXX` beside `out`
        ...write and verify the files in `staged`...
    # here `out` holds the new files; an error above left `out` as it was and no staging folder

The folder is built in a temporary folder in the same parent (so the final step is a rename,
never a copy) and moved into place only when the block ends without an error. An existing
release is replaced with renames only: it is first renamed aside (``.<name>.old-XXXX/<name>``),
the new folder renamed to ``out``, and only then the old one deleted. A kill at any moment
therefore leaves each release whole: before the second rename the old one is in place (or,
between the two renames, whole in its ``.old-`` folder, the new one whole in its ``.tmp-``
folder); after it, the new one is in place, and at worst the old one lies whole in its
``.old-`` folder. Nothing is ever deleted from inside ``out``.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Iterator, Union

from .release_files import MANIFEST, make_ordinary

__all__ = ['check_release_name', 'check_out_dir', 'staged_folder', 'move_into_place']

PathLike = Union[str, os.PathLike]
_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]*$')


def check_release_name(name: str, what: str = '--name') -> str:
    """A model name is also a file stem: letters, digits, ``.``, ``_``, ``-``; no path, no ``..``."""
    if not isinstance(name, str) or not _NAME.match(name) or '..' in name:
        raise ValueError(f'{what} {name!r}: a model name is a file stem inside the release folder: letters, '
                         'digits, ".", "_" and "-", starting with a letter or digit (no "/", no "..")')
    return name


def check_out_dir(out_dir: PathLike, overwrite: bool, what: str = 'out_dir') -> Path:
    """The folder to write, checked before any work.

    Refused: a symlink (a release is written to a real folder only, never through a link), a
    path that is (or lies under) something other than a folder, and an existing folder with
    files in it unless ``overwrite``. With ``overwrite``, only an empty folder or a release
    (a folder with ``manifest.json``, or one this writer wrote: ``config.json`` of a timm
    folder, ``.json`` + ``.pth`` of an mmpretrain conversion) is replaced: ``--overwrite`` on a
    folder of other files (a home folder, a checkout) is refused rather than moving it away.

    Args:
        out_dir: The target folder.
        overwrite: Whether an existing release there may be replaced.
        what: How the message names the argument (``out_dir``, ``OUT_DIR``).

    Raises:
        ValueError: A symlink, a file, or an ``overwrite`` of a folder that is not a release.
        FileExistsError: A non-empty folder without ``overwrite``.
    """
    out = Path(out_dir)
    if out.name in ('', '..'):
        raise ValueError(f'{what} {str(out)!r}: name the release folder itself (e.g. releases/<name>), not "." or '
                         '".." (the release replaces the whole folder)')
    if out.is_symlink():
        raise ValueError(f'{what} {str(out)!r} is a symlink (to {os.readlink(out)}); a release is written to a '
                         'real folder only, never through a link')
    for folder in (out, *out.parents):
        if folder.exists() and not folder.is_dir():
            raise ValueError(f'{what} {str(out)!r}: {str(folder)!r} exists and is not a folder; give a folder '
                             'to write the release into (it is created if missing)')
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise FileExistsError(f'{what} {str(out)!r} already holds a release (or other files); pass --overwrite '
                                  '(overwrite=True) to replace it, or choose another folder')
        if not _is_release(out):
            raise ValueError(f'{what} {str(out)!r} holds files but no release ({MANIFEST}, or a timm folder\'s '
                             'config.json, or an mmpretrain .json + .pth); --overwrite replaces a release only. '
                             'Choose an empty or new folder')
    return out


def _is_release(folder: Path) -> bool:
    names = {p.name for p in folder.iterdir()}
    suffixes = {Path(n).suffix for n in names}
    return MANIFEST in names or 'config.json' in names or {'.json', '.pth'} <= suffixes


def move_into_place(staged: Path, out: Path) -> None:
    """Replace ``out`` by ``staged`` with renames only (both lie in the same folder).

    The previous ``out`` is renamed aside, the new one renamed to ``out``, then the old one
    deleted; if the second rename fails (or is interrupted), the old one is renamed back.
    """
    if not out.exists():
        os.replace(staged, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f'.{out.name}.old-', dir=out.parent))
    os.replace(out, old / out.name)
    try:
        os.replace(staged, out)
    except BaseException:
        os.replace(old / out.name, out)  # put the previous release back
        old.rmdir()
        raise
    shutil.rmtree(old)


@contextlib.contextmanager
def staged_folder(out: PathLike) -> Iterator[Path]:
    """A temporary folder beside ``out`` to write into; moved into place when the block succeeds.

    On an error (or an interrupt) in the block the temporary folder is deleted and ``out`` is
    left as it was. ``out`` should come from :func:`check_out_dir`.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=f'.{out.name}.tmp-', dir=out.parent))
    make_ordinary(staged)  # mkdtemp makes it private (0700)
    try:
        yield staged
        move_into_place(staged, out)
    finally:
        if staged.exists():
            shutil.rmtree(staged)
