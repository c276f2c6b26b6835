"""Reading weight files safely: no arbitrary unpickling, hash in the file name checked.

:func:`load_weights` is the one reader of weight files: every loader of the package (timm
backbones, releases, mmengine's ``CheckpointLoader`` once :mod:`convattn_plugin.mm` is imported,
the tools) reads through it. Every load is ``torch.load(weights_only=True)`` or safetensors
(``.safetensors``), for local paths and for ``http(s)://`` URLs alike: a URL is first downloaded
to a file (``torch.hub.download_url_to_file``, which only downloads) in torch's hub cache, then
loaded like a local file. A name with a hash is cached as torch.hub and timm cache it
(``<torch.hub.get_dir()>/checkpoints/<name>``: the hash says which content it is); a name
without one under a folder keyed by the whole URL (``checkpoints/by-url/<sha256(url)[:16]>/<name>``),
so two hosts serving ``model.pth`` never share an entry.

The hash rule (timm's and torch.hub's convention): a file named ``<stem>-<hex>.<ext>``, where
``<hex>`` is the last dash-separated part, 8 to 64 lowercase hex digits, and ``<ext>`` one of
``pth pt bin ckpt safetensors``, carries the first digits of its sha256, and a file whose
content does not match is refused. A run of digits only that starts with a calendar date
(``YYYYMMDD``, years 1970-2099, optionally followed by ``HHMM`` or ``HHMMSS``) is a date stamp,
not a hash: ``resnet50-20240131.pth`` is not checked. (A real sha256 prefix is such a date
with a probability of about 1e-5.)

Other refusals, each with a message naming the path: a missing file, a directory, an empty
(0-byte) file, a torch zip file with a compressed member (``torch.save`` stores every member
uncompressed; a compressed ``data.pkl`` could inflate to any size in memory, so it is refused
before ``torch.load`` reads it), a pickle that is not plain weights, and (:func:`check_finite`)
NaN or inf values in the floating-point weights the file holds.
"""
from __future__ import annotations

import datetime
import hashlib
import os
import pickle
import re
import urllib.parse
import zipfile
from pathlib import Path
from typing import Any, Mapping, Optional, Union

import torch

from .atomic_files import atomic_write

__all__ = ['HashMismatchError', 'UnsafeCheckpointError', 'CompressedCheckpointError', 'NonFiniteWeightsError',
           'URL_PREFIXES', 'WEIGHT_ENTRIES', 'is_url', 'sha256_of', 'hash_in_name', 'check_hash_in_name',
           'check_checkpoint_file', 'check_stored_members', 'check_weights_file', 'cache_path', 'download_checkpoint',
           'local_checkpoint', 'check_finite', 'check_loaded_finite', 'load_weights']

PathLike = Union[str, os.PathLike]
URL_PREFIXES = ('http://', 'https://')
SUFFIXES = ('pth', 'pt', 'bin', 'ckpt', 'safetensors')
#: Entries of a checkpoint dict that hold a state dict (mmengine, timm, the authors' training pickles).
WEIGHT_ENTRIES = ('state_dict', 'model', 'state_dict_ema', 'model_ema', 'ema_state_dict')
_ZIP_MAGIC = b'PK\x03\x04'  # what torch.load looks for to read a file as a zip archive

# `<stem>-<8..64 hex digits>.<ext>`: the hex run must be the last dash-separated part.
_HASHED_NAME = re.compile(r'-(?P<digest>[0-9a-f]{8,64})\.(?:' + '|'.join(SUFFIXES) + r')$')
_DATE_STAMP = re.compile(r'^(?P<date>(?:19[7-9]\d|20\d\d)\d{4})(?:\d{4}|\d{6})?$')


class HashMismatchError(ValueError):
    """A file's sha256 does not start with the digits its name carries."""


class UnsafeCheckpointError(pickle.UnpicklingError, ValueError):
    """A checkpoint holds objects other than weights; it is refused, nothing of it ran."""


class CompressedCheckpointError(ValueError):
    """A torch zip file with a compressed member: refused before anything of it is inflated."""


class NonFiniteWeightsError(ValueError):
    """A state dict holds NaN or inf values."""


def is_url(path: Any) -> bool:
    """Whether ``path`` is an ``http://`` or ``https://`` URL."""
    return isinstance(path, str) and path.lower().startswith(URL_PREFIXES)


def sha256_of(path: PathLike, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(chunk_size), b''):
            digest.update(chunk)
    return digest.hexdigest()


def _is_date_stamp(digits: str) -> bool:
    m = _DATE_STAMP.match(digits)
    if m is None:
        return False
    try:
        datetime.datetime.strptime(m['date'], '%Y%m%d')
    except ValueError:
        return False
    return True


def hash_in_name(path: Union[PathLike, str]) -> Optional[str]:
    """The sha256 prefix a file name (or a URL's last part) carries, or ``None`` (see the module doc)."""
    name = urllib.parse.urlparse(path).path if is_url(path) else str(path)
    m = _HASHED_NAME.search(Path(name).name)
    if m is None or _is_date_stamp(m['digest']):
        return None
    return m['digest']


def check_hash_in_name(path: PathLike, name: Optional[str] = None) -> Optional[str]:
    """Verify a hashed file name against the file's content.

    Args:
        path: The file.
        name: The name that carries the hash (a URL the file was downloaded from); default ``path``.

    Returns:
        The full sha256 if the name carries a hash (and it matches), else ``None``.

    Raises:
        HashMismatchError: The content's sha256 does not start with the name's digits.
    """
    expected = hash_in_name(name if name is not None else path)
    if expected is None:
        return None
    actual = sha256_of(path)
    if not actual.startswith(expected):
        raise HashMismatchError(
            f'{name or path}: its name says sha256 {expected}..., but the file hashes to {actual[:len(expected)]}...; '
            'the file is corrupt or was changed after publishing. Refusing to load it.')
    return actual


def check_checkpoint_file(path: PathLike) -> Path:
    """Raise a clear error unless ``path`` is a non-empty regular file.

    Raises:
        FileNotFoundError: Nothing at ``path``.
        IsADirectoryError: ``path`` is a folder.
        ValueError: The file is empty (an interrupted download or save).
    """
    path = Path(path)
    accepted = ('a checkpoint file: a torch.save state dict or mmengine checkpoint (.pth, .pt, .bin, .ckpt) '
                'or a .safetensors file, or an http(s):// URL of one')
    if path.is_dir():
        raise IsADirectoryError(f'checkpoint {str(path)!r} is a directory; expected {accepted}')
    if not path.is_file():
        raise FileNotFoundError(f'no checkpoint file at {path} (expected {accepted})')
    if path.stat().st_size == 0:
        raise ValueError(f'checkpoint {str(path)!r} is empty (0 bytes): an interrupted download or save? '
                         f'Expected {accepted}')
    return path


def check_stored_members(path: PathLike, shown: Optional[str] = None) -> None:
    """Refuse a torch zip file (``torch.save``'s format since 1.6) with a compressed member.

    ``torch.save`` stores every member as is; torch's reader would inflate a compressed one in
    memory whatever its size (a few KB of ``data.pkl`` can inflate to gigabytes). Only the zip
    directory is read here. Files in torch's legacy format (no zip) have no members to check.

    Raises:
        CompressedCheckpointError: A member is compressed (named in the message), or the file
            starts as a zip archive but has no readable zip directory.
    """
    shown = shown or str(path)
    with open(path, 'rb') as f:
        if f.read(len(_ZIP_MAGIC)) != _ZIP_MAGIC:
            return
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except zipfile.BadZipFile as e:
        raise CompressedCheckpointError(f'{shown}: starts as a zip archive but its zip directory cannot be read '
                                        f'({e}); a torch.save file is a valid zip archive. Refusing to load it.') from e
    compressed = [m for m in members if m.compress_type != zipfile.ZIP_STORED]
    if compressed:
        shown_members = ', '.join(f'{m.filename} ({m.compress_size} bytes, {m.file_size} declared inflated)'
                                  for m in compressed[:5])
        raise CompressedCheckpointError(
            f'{shown}: refused before loading: {len(compressed)} compressed member(s): {shown_members}'
            f'{" and more" if len(compressed) > 5 else ""}. torch.save stores every member uncompressed; '
            'a compressed member could inflate to any size in memory. Accepted: a file as torch.save wrote it, '
            'or .safetensors.')


def check_weights_file(path: PathLike, name: Optional[str] = None) -> Path:
    """Every check of a local weight file that comes before reading it.

    A non-empty regular file (:func:`check_checkpoint_file`), the hash its name (or ``name``, the
    URL it came from) carries (:func:`check_hash_in_name`), and only stored members in a torch zip
    file (:func:`check_stored_members`). :func:`load_weights` runs it, and so does every loader that
    hands a file to another framework's reader (timm's for the authors' tags).
    """
    path = check_checkpoint_file(path)
    check_hash_in_name(path, name=name)
    if path.suffix != '.safetensors':
        check_stored_members(path, name)
    return path


def _url_name(url: str) -> str:
    name = Path(urllib.parse.unquote(urllib.parse.urlparse(url).path)).name
    if not name or name in ('.', '..'):
        raise ValueError(f'checkpoint URL {url!r} names no file; expected http(s)://host/path/<name>.<ext>')
    return name


def cache_path(url: str, model_dir: Optional[PathLike] = None) -> Path:
    """Where :func:`download_checkpoint` keeps ``url``'s file.

    ``<model_dir>/<name>`` for a name that carries a hash (torch.hub's and timm's layout: the
    hash names the content, whichever host served it); ``<model_dir>/by-url/<key>/<name>``
    otherwise, ``key`` the first 16 hex digits of the URL's sha256, so that the same name from
    another URL is another entry. ``model_dir`` defaults to ``<torch.hub.get_dir()>/checkpoints``.
    """
    name = _url_name(url)
    folder = Path(model_dir) if model_dir is not None else Path(torch.hub.get_dir()) / 'checkpoints'
    if hash_in_name(url) is not None:
        return folder / name
    return folder / 'by-url' / hashlib.sha256(url.encode('utf-8')).hexdigest()[:16] / name


def download_checkpoint(url: str, model_dir: Optional[PathLike] = None, progress: bool = False) -> Path:
    """Download ``url`` to a file (nothing is loaded) and verify the hash its name carries.

    The file goes to :func:`cache_path`, written under a temporary name first. A file already
    there is reused after the same hash check.

    Raises:
        ValueError: The URL names no file.
        HashMismatchError: The download does not match the hash in its name.
    """
    target = cache_path(url, model_dir)
    if not target.is_file():
        atomic_write(target, lambda tmp: torch.hub.download_url_to_file(url, tmp, hash_prefix=None, progress=progress))
    try:
        check_hash_in_name(target, name=url)
    except HashMismatchError:
        target.unlink()  # never reuse a bad download
        raise
    return target


def local_checkpoint(path: PathLike, model_dir: Optional[PathLike] = None) -> Path:
    """A checked local file for ``path`` (:func:`check_weights_file`): a URL is downloaded first."""
    if not is_url(path):
        return check_weights_file(path)
    local = check_checkpoint_file(download_checkpoint(str(path), model_dir))  # the hash is checked there
    if local.suffix != '.safetensors':
        check_stored_members(local, str(path))
    return local


def check_finite(state_dict: Mapping[str, Any], what: str = 'the checkpoint') -> None:
    """Raise :class:`NonFiniteWeightsError` naming every floating-point tensor with NaN or inf."""
    bad = [k for k, v in state_dict.items()
           if isinstance(v, torch.Tensor) and v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        shown = ', '.join(bad[:20]) + (f' and {len(bad) - 20} more' if len(bad) > 20 else '')
        raise NonFiniteWeightsError(f'{what} has non-finite values (NaN or inf) in {len(bad)} tensor(s): {shown}; '
                                    'the weights are broken (a diverged run?) and are refused')


def check_loaded_finite(obj: Any, what: str) -> None:
    """:func:`check_finite` on what a weight file holds: a state dict, or the state dicts a checkpoint
    dict holds under :data:`WEIGHT_ENTRIES` (``state_dict``, ``model``, the EMA entries)."""
    if not isinstance(obj, Mapping):
        return
    check_finite(obj, what)
    for key in WEIGHT_ENTRIES:
        entry = obj.get(key)
        if isinstance(entry, Mapping):
            check_finite(entry, what if key == 'state_dict' else f'{what} ({key})')


def _torch_load(path: Path, map_location: Any, shown: str) -> Any:
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        raise UnsafeCheckpointError(
            f'{shown}: refused: the file holds objects other than weights, and loading it would run code from it '
            f'(torch.load(weights_only=True) failed: {str(e).splitlines()[0]}). Accepted: a state dict, an '
            'mmengine checkpoint, or .safetensors. Nothing of the file was executed.') from e


def load_weights(path: PathLike, map_location: Any = 'cpu',
                 model_dir: Optional[PathLike] = None) -> Any:
    """Load a checkpoint file or URL safely: the one reader of weight files in this package.

    Before reading: the checks of :func:`check_weights_file` (a non-empty file, the hash its
    name carries, no compressed member). After: :func:`check_loaded_finite` (no NaN or inf).

    Args:
        path: A ``.safetensors`` file, a torch file that ``weights_only=True`` can read
            (a state dict, or a dict holding one under ``state_dict`` with ``meta``), or an
            ``http(s)://`` URL of either (downloaded first, see :func:`download_checkpoint`).
        map_location: Where tensors go (as ``torch.load``'s; ``None`` keeps the saved devices).
        model_dir: Where a URL is downloaded to (default torch's hub cache).

    Returns:
        What the file holds (for safetensors, the state dict).

    Raises:
        HashMismatchError: See :func:`check_hash_in_name`.
        CompressedCheckpointError: See :func:`check_stored_members`.
        UnsafeCheckpointError: The file holds more than weights (a pickle with code).
        NonFiniteWeightsError: NaN or inf in the weights (listed by key).
        FileNotFoundError, IsADirectoryError, ValueError: See :func:`check_checkpoint_file`.
    """
    shown = str(path)
    local = local_checkpoint(path, model_dir)
    if local.suffix == '.safetensors':
        from safetensors.torch import load_file
        device = str(map_location) if isinstance(map_location, (str, torch.device)) else 'cpu'
        obj = load_file(str(local), device=device)
    else:
        obj = _torch_load(local, map_location, shown)
    check_loaded_finite(obj, shown)
    return obj
