"""The files of a release: paths confined to its folder, and the manifest of their hashes.

A release carries its mmpretrain config as JSON data in a closed schema, read and written by
:mod:`convattn_plugin.mm.config_schema` only. Every path a release names (``metafile.yml``'s ``Config`` and ``Weights``, the manifest's
entries) must stay inside the release folder: :func:`confined_path` refuses absolute paths,
``..`` and symlinks that lead out. ``MANIFEST`` (``manifest.json``) lists the sha256 of every
file of the release; :func:`verify_manifest` checks them all (config, weights, timm folder).
YAML is read with ``yaml.safe_load`` only.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable, Union

import yaml

from ..checkpoint import HashMismatchError, hash_in_name, is_url, sha256_of
from ..mm.config_schema import UnsafeReleaseError

__all__ = ['UnsafeReleaseError', 'MANIFEST', 'METAFILE', 'TIMM_FOLDER', 'TIMM_FILES', 'confined_path',
           'read_metafile', 'write_manifest', 'verify_manifest', 'release_entry', 'make_ordinary']

PathLike = Union[str, os.PathLike]
MANIFEST = 'manifest.json'
METAFILE = 'metafile.yml'
#: The release's timm / Hugging Face Hub folder, and the files of it that loaders read.
TIMM_FOLDER = 'timm'
TIMM_FILES = ('config.json', 'model.safetensors')


def confined_path(root: PathLike, value: Any, what: str) -> Path:
    """``root / value``, refused unless it is an existing file inside ``root`` (symlinks resolved).

    Raises:
        UnsafeReleaseError: ``value`` is not a relative path inside ``root`` (a URL, an absolute
            path, ``..``, or a symlink that leaves ``root``).
        FileNotFoundError: No such file in the release.
    """
    root = Path(root)
    if not isinstance(value, str) or not value or '://' in value or os.path.isabs(value) \
            or '..' in Path(value).parts or '\\' in value:
        raise UnsafeReleaseError(f'{root}: {what} {value!r} is not a relative path inside the release folder; '
                                 'accepted: a file name (or sub/path) inside it, without .. or a leading /')
    path = root / value
    if not path.resolve().is_relative_to(root.resolve()):
        raise UnsafeReleaseError(f'{root}: {what} {value!r} leads out of the release folder (a symlink to '
                                 f'{path.resolve()}); refused')
    if not path.is_file():
        raise FileNotFoundError(f'{root}: {what} {value!r}: no such file in the release')
    return path


def read_metafile(path: PathLike) -> dict[str, Any]:
    """A ``metafile.yml`` read with ``yaml.safe_load``."""
    doc = yaml.safe_load(Path(path).read_text(encoding='utf-8'))
    if not isinstance(doc, dict):
        raise UnsafeReleaseError(f'{path}: not a metafile (a {type(doc).__name__}, expected a mapping)')
    return doc


def write_manifest(root: PathLike, files: Iterable[PathLike]) -> Path:
    """``manifest.json``: the sha256 of each file, by its path relative to ``root``."""
    root = Path(root)
    entries = {Path(f).relative_to(root).as_posix(): sha256_of(f) for f in sorted(map(Path, files))}
    path = root / MANIFEST
    path.write_text(json.dumps({'sha256': entries}, indent=2) + '\n', encoding='utf-8')
    return path


def verify_manifest(root: PathLike, required: Iterable[PathLike] = ()) -> dict[str, str]:
    """Check every file the manifest lists, and that each of ``required`` is among them.

    Returns:
        ``{relative path: sha256}``.

    Raises:
        FileNotFoundError: No manifest.
        UnsafeReleaseError: A path leaves the folder, a hash differs, or a required file is not listed.
    """
    root = Path(root)
    manifest = root / MANIFEST
    if not manifest.is_file():
        raise FileNotFoundError(f'{root}: no {MANIFEST}; a release lists the sha256 of its files there')
    try:
        doc = json.loads(manifest.read_text(encoding='utf-8'))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UnsafeReleaseError(f'{manifest}: not valid JSON ({e})') from e
    entries = doc.get('sha256') if isinstance(doc, dict) else None
    if not isinstance(entries, dict) or not entries or not all(isinstance(v, str) for v in entries.values()):
        raise UnsafeReleaseError(f'{manifest}: expected {{"sha256": {{"<file>": "<hex>", ...}}}}')
    for rel, expected in entries.items():
        actual = sha256_of(confined_path(root, rel, f'{MANIFEST} entry'))
        if actual != expected:
            raise HashMismatchError(f'{root / rel}: sha256 {actual[:12]}... but {MANIFEST} says {str(expected)[:12]}...; '
                                    'the release was changed after publishing. Refusing to load it.')
    for f in required:
        rel = Path(f).resolve().relative_to(root.resolve()).as_posix()
        if rel not in entries:
            raise UnsafeReleaseError(f'{root}: {rel} is not covered by {MANIFEST}; every file a release uses is '
                                     'listed there with its sha256. Refusing to load it.')
    return dict(entries)


def _weights(root: Path, value: Any, manifest: dict[str, str]) -> str:
    """A metafile's ``Weights``: a file inside ``root`` that the manifest covers (its name's hash,
    if any, checked against the manifest's sha256: the file is hashed once), or a URL whose file
    name carries a hash (verified when it is downloaded)."""
    if is_url(value):
        if hash_in_name(value) is None:
            raise UnsafeReleaseError(f'{root}: Weights {value!r} is a URL whose file name carries no sha256 prefix '
                                     '(<name>-<hex>.pth), so the download could not be verified; refused')
        return value
    path = confined_path(root, value, 'Weights')
    rel = path.resolve().relative_to(root.resolve()).as_posix()
    if rel not in manifest:
        raise UnsafeReleaseError(f'{root}: Weights {rel} is not covered by {MANIFEST}; every file a release uses '
                                 'is listed there with its sha256. Refusing to load it.')
    expected = hash_in_name(path)
    if expected is not None and not manifest[rel].startswith(expected):
        raise HashMismatchError(f'{path}: its name says sha256 {expected}..., but the file hashes to '
                                f'{manifest[rel][:len(expected)]}...; the file is corrupt or was changed after '
                                'publishing. Refusing to load it.')
    return str(path.resolve())


def release_entry(root: PathLike) -> tuple[dict[str, Any], Path, str, Path]:
    """Read and check a release folder: ``(metafile entry, config, weights, timm folder)``.

    The metafile lists exactly one model; its ``Config`` and ``Weights``, the metafile itself and
    the timm folder's ``config.json`` / ``model.safetensors`` lie inside ``root`` and are covered
    by ``manifest.json``, whose hashes all match (each file is hashed once). ``Weights`` may
    instead be a URL whose name carries its hash (checked when it is downloaded).

    Raises:
        UnsafeReleaseError: Not one model, a path leaving the folder, or a file the manifest misses.
        HashMismatchError: A file differs from the manifest or from the hash in its name.
        FileNotFoundError: A file the release names is missing.
    """
    root = Path(root)
    metafile = confined_path(root, METAFILE, 'metafile')
    models = read_metafile(metafile).get('Models')
    if not isinstance(models, list) or len(models) != 1 or not isinstance(models[0], dict):
        count = len(models) if isinstance(models, list) else 'no list of'
        raise UnsafeReleaseError(f'{metafile}: Models lists {count} models; a release has exactly one')
    entry = models[0]
    config = confined_path(root, entry.get('Config'), 'Config')
    timm_files = [confined_path(root, f'{TIMM_FOLDER}/{f}', 'timm file') for f in TIMM_FILES]
    manifest = verify_manifest(root, [metafile, config, *timm_files])
    weights = _weights(root, entry.get('Weights'), manifest)
    return entry, config, weights, root / TIMM_FOLDER


def make_ordinary(path: PathLike) -> Path:
    """Give a file or folder the mode the umask gives a new one (``0644`` / ``0755`` usually).

    ``tempfile.mkdtemp`` (the staging folder of a release) and safetensors' writer create
    them private (``0700`` / ``0600``); a release is an ordinary folder others may read.
    """
    path = Path(path)
    umask = os.umask(0)
    os.umask(umask)
    path.chmod((0o777 if path.is_dir() else 0o666) & ~umask)
    return path
