"""A release's ``metafile.yml`` and its registration into mmpretrain's model hub.

The metafile is mmpretrain's format (``Collections`` / ``Models`` with ``Name``,
``Metadata`` (``FLOPs``, ``Parameters``, ``Training Data``), ``In Collection``,
``Results`` (``Task``, ``Dataset``, ``Metrics: Top 1 Accuracy``), ``Weights``,
``Config``), so its entry can also be pasted into a ``configs/*/metafile.yml``.

``Weights`` and ``Config`` are written relative to the metafile's folder, so a release
folder can be moved or uploaded as a whole. mmpretrain itself would resolve a relative
``Weights`` path against the working directory, and execute a ``.py`` config: register a
release with :func:`register_release`, which reads the metafile with ``yaml.safe_load``,
keeps every path inside the release folder, verifies the manifest and the hash in the
checkpoint's name, and hands mmpretrain the config as checked data (``<name>.json``), before
``mmpretrain.get_model(name, pretrained=True)`` can load anything.
"""
from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any, Mapping, Optional, Union

import yaml

from ..checkpoint import check_hash_in_name, hash_in_name, is_url
from .model_card import TASK
from .release_files import UnsafeReleaseError, confined_path, read_config, read_metafile, verify_manifest

__all__ = ['metafile_entry', 'write_metafile', 'release_weights', 'register_release']

_logger = logging.getLogger(__name__)
PathLike = Union[str, os.PathLike]
_registered: dict[str, str] = {}  # model name -> resolved weights path
_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]*$')


def metafile_entry(name: str, collection: str, weights: str, config: str, dataset: Optional[str],
                   top1: Optional[float], params: int, flops: Optional[float],
                   extra_metadata: Optional[Mapping[str, Any]] = None) -> dict[str, Any]:
    """One ``Models`` entry of mmpretrain's metafile format.

    Args:
        name: Model name (``mmpretrain.get_model(name)``).
        collection: ``In Collection``.
        weights: The checkpoint, relative to the metafile (or a URL).
        config: The config, relative to the metafile.
        dataset: Training data set name.
        top1: Top-1 accuracy in percent; ``None`` writes ``Results: null``.
        params: Parameter count.
        flops: Multiply-adds of one image, mmpretrain's ``FLOPs`` (``None`` leaves it out).
        extra_metadata: More ``Metadata`` fields (``Epochs``, ``Batch Size``, ...).
    """
    metadata: dict[str, Any] = {}
    if flops is not None:
        metadata['FLOPs'] = int(flops)
    metadata['Parameters'] = int(params)
    if dataset:
        metadata['Training Data'] = dataset
    metadata.update(extra_metadata or {})
    results = None
    if top1 is not None:
        results = [{'Task': TASK, 'Dataset': dataset or 'unknown',
                    'Metrics': {'Top 1 Accuracy': round(float(top1), 2)}}]
    return {'Name': name, 'Metadata': metadata, 'In Collection': collection, 'Results': results,
            'Weights': weights, 'Config': config}


def write_metafile(path: PathLike, entry: Mapping[str, Any], collection: Mapping[str, Any]) -> Path:
    """Write a metafile with one collection and one model."""
    path = Path(path)
    doc = {'Collections': [dict(collection)], 'Models': [dict(entry)]}
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding='utf-8')
    return path


def release_weights(root: Path, value: Any) -> str:
    """A metafile's ``Weights``: a file inside ``root`` with a matching hash in its name, or a URL
    whose file name carries a hash (verified when it is downloaded)."""
    if is_url(value):
        if hash_in_name(value) is None:
            raise UnsafeReleaseError(f'{root}: Weights {value!r} is a URL whose file name carries no sha256 prefix '
                                     '(<name>-<hex>.pth), so the download could not be verified; refused')
        return value
    path = confined_path(root, value, 'Weights')
    check_hash_in_name(path)
    return str(path.resolve())


def register_release(metafile: PathLike, replace_unweighted: bool = True) -> list[str]:
    """Make ``mmpretrain.get_model`` / ``list_models`` / the inferencer find a release.

    The metafile is read with ``yaml.safe_load``; ``Weights`` and ``Config`` must lie inside
    its folder (:func:`.release_files.confined_path`), the files must match ``manifest.json``
    and the checkpoint the hash in its name (or be a URL with a hash in its name, verified at
    download); the config is read as data (:func:`.release_files.read_config`) and handed to
    mmpretrain as a ``Config``, so nothing from the release is executed. Registering the same
    release again does nothing.

    Args:
        metafile: A release's ``metafile.yml``.
        replace_unweighted: A name the hub already lists *without* weights (the project's
            own config entry, e.g. ``resnet18-cbam_1xb32_digits``) takes the release's
            weights, results and config; otherwise a name clash is an error.

    Returns:
        The names registered (or replaced) by this call.

    Raises:
        HashMismatchError: A file does not match the manifest or the hash in its name.
        UnsafeReleaseError: A path leaves the release folder, or the config is not plain data.
        ValueError: A name the hub already lists with other weights.
    """
    import convattn_plugin.mm  # noqa: F401  (the backbones, and safe URL loading in mmengine)
    from mmpretrain.apis import ModelHub
    from modelindex.models.Model import Model

    path = Path(metafile).resolve()
    root = path.parent
    doc = read_metafile(path)
    entries = doc.get('Models') or []
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise UnsafeReleaseError(f'{path}: Models must be a list of mappings')
    verify_manifest(root)
    # Private ModelHub API: mmpretrain 1.2 has no public way to add one model (pyproject bounds it <1.3).
    ModelHub._register_mmpretrain_models()  # so a clash with mmpretrain's own names shows now
    models = ModelHub._models_dict
    new = []
    for entry in entries:
        name = str(entry.get('Name', ''))
        if not _NAME.match(name):
            raise UnsafeReleaseError(f'{path}: model name {name!r}: expected letters, digits, ".", "_", "-"')
        weights = release_weights(root, entry.get('Weights'))
        key = name.lower()
        if _registered.get(key) == weights:
            continue
        existing = models.get(key)
        if existing is not None and not (replace_unweighted and existing.weights is None):
            raise ValueError(f'{path}: model {name!r} is already in mmpretrain\'s hub with weights '
                             f'{existing.weights}; publish under another --name')
        model = Model.from_dict({k: v for k, v in entry.items() if k not in ('Weights', 'Config')}, str(path))
        model.weights = weights
        model.config = read_config(confined_path(root, entry.get('Config'), 'Config'))
        models[key] = model
        _registered[key] = weights
        if existing is not None:
            _logger.info('register_release: %s now has the weights %s', name, weights)
        new.append(key)
    return new
