"""The files of a release, read without running code from them.

A release carries its mmpretrain config as JSON data (``<name>.json``), never as Python:
:func:`read_config` reads it with ``json`` and accepts only plain data: no ``_base_`` (which
would make mmengine read, and run, another file), ``custom_imports`` at most
``convattn_plugin.mm``, and every ``type`` a name that mmpretrain's registries hold (mmengine
would otherwise import any ``module.attribute`` a ``type`` names and call it).

Every path a release names (``metafile.yml``'s ``Config`` and ``Weights``, the manifest's
entries) must stay inside the release folder: :func:`confined_path` refuses absolute paths,
``..`` and symlinks that lead out. ``MANIFEST`` (``manifest.json``) lists the sha256 of every
file of the release; :func:`verify_manifest` checks them all (config, weights, timm folder).
YAML is read with ``yaml.safe_load`` only.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Union

import yaml

from ..checkpoint import sha256_of

__all__ = ['UnsafeReleaseError', 'MANIFEST', 'confined_path', 'read_metafile', 'write_config', 'read_config',
           'write_manifest', 'verify_manifest', 'CUSTOM_IMPORTS', 'make_ordinary']

PathLike = Union[str, os.PathLike]
MANIFEST = 'manifest.json'
#: What a config needs to build the project's models (as configs/_base_/default_runtime.py).
CUSTOM_IMPORTS = dict(imports=['convattn_plugin.mm'], allow_failed_imports=False)


class UnsafeReleaseError(ValueError):
    """A release names a path outside its folder, or holds a config that is not plain data."""


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


def _registered_names() -> set[str]:
    import mmengine.registry as root_registry
    import mmpretrain.registry as mm_registry
    from mmengine.registry import Registry
    from mmpretrain.utils import register_all_modules

    register_all_modules(init_default_scope=False)
    names: set[str] = set()
    for module in (mm_registry, root_registry):
        for obj in vars(module).values():
            if isinstance(obj, Registry):
                names.update(obj.module_dict)
    return names


def _check_config(value: Any, where: str, names: set[str]) -> None:
    if value is None or type(value) in (bool, int, float, str):
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_config(item, f'{where}[{i}]', names)
        return
    if not isinstance(value, dict):
        raise UnsafeReleaseError(f'{where}: {type(value).__name__} is not JSON data')
    for k, item in value.items():
        if k == 'type':
            name = item.split('.', 1)[1] if isinstance(item, str) and item.startswith('mmpretrain.') else item
            if not isinstance(name, str) or name not in names:
                raise UnsafeReleaseError(f'{where}.type={item!r} is not a class registered in mmpretrain or '
                                         'mmengine; a release config may only name registered classes')
        _check_config(item, f'{where}.{k}', names)


def _check_top_level(cfg: Mapping[str, Any], where: str) -> None:
    if '_base_' in cfg:
        raise UnsafeReleaseError(f'{where}: _base_ is refused in a release config (mmengine would read and run '
                                 'the files it names); a release config is one flat JSON file')
    imports = cfg.get('custom_imports')
    if imports is not None and (not isinstance(imports, dict)
                                or set(imports.get('imports') or []) - set(CUSTOM_IMPORTS['imports'])):
        raise UnsafeReleaseError(f'{where}: custom_imports={imports!r}; a release config may only import '
                                 f'{CUSTOM_IMPORTS["imports"]}')


def write_config(cfg: Any, path: PathLike) -> Path:
    """Write an mmengine config (``Config`` or dict) as JSON data, checked as :func:`read_config` checks it."""
    data = json.loads(json.dumps(cfg.to_dict() if hasattr(cfg, 'to_dict') else dict(cfg),
                                 default=_not_json(path)))
    _check_top_level(data, str(path))
    _check_config(data, Path(path).name, _registered_names())
    path = Path(path)
    path.write_text(json.dumps(data, indent=2) + '\n', encoding='utf-8')
    return path


def _not_json(path: PathLike):
    def default(obj: Any) -> Any:
        raise UnsafeReleaseError(f'{path}: the config holds {obj!r} ({type(obj).__name__}), which is not JSON data; '
                                 'a release config holds names, numbers, strings, lists and dicts only')
    return default


def read_config(path: PathLike):
    """A release's JSON config as an mmengine ``Config``, read without running anything from it.

    Raises:
        UnsafeReleaseError: Not JSON data, ``_base_``, other ``custom_imports``, or a ``type``
            that names no registered class.
    """
    from mmengine.config import Config

    path = Path(path)
    if path.suffix != '.json':
        raise UnsafeReleaseError(f'{path}: a release config is a .json file (data); a {path.suffix or "suffix-less"} '
                                 'config would be executed or read with an unsafe loader, so it is refused')
    try:
        data = json.loads(path.read_text(encoding='utf-8'))
    except json.JSONDecodeError as e:
        raise UnsafeReleaseError(f'{path}: not valid JSON ({e})') from e
    if not isinstance(data, dict):
        raise UnsafeReleaseError(f'{path}: a config is a JSON object, not a {type(data).__name__}')
    _check_top_level(data, str(path))
    _check_config(data, path.name, _registered_names())
    return Config(data, filename=None)


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
    from ..checkpoint import HashMismatchError

    root = Path(root)
    manifest = root / MANIFEST
    if not manifest.is_file():
        raise FileNotFoundError(f'{root}: no {MANIFEST}; a release lists the sha256 of its files there')
    entries = json.loads(manifest.read_text(encoding='utf-8')).get('sha256')
    if not isinstance(entries, dict) or not entries:
        raise UnsafeReleaseError(f'{manifest}: expected {{"sha256": {{"<file>": "<hex>", ...}}}}')
    for rel, expected in entries.items():
        actual = sha256_of(confined_path(root, rel, f'{MANIFEST} entry'))
        if actual != expected:
            raise HashMismatchError(f'{root / rel}: sha256 {actual[:12]}... but {MANIFEST} says {str(expected)[:12]}...; '
                                    'the release was changed after publishing. Refusing to load it.')
    for f in required:
        rel = Path(f).resolve().relative_to(root.resolve()).as_posix()
        if rel not in entries:
            raise UnsafeReleaseError(f'{root}: {rel} is not covered by {MANIFEST}; refusing to load it')
    return dict(entries)


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
