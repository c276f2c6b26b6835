"""A release's ``metafile.yml`` and its registration into mmpretrain's model hub.

The metafile is mmpretrain's format (``Collections`` / ``Models`` with ``Name``,
``Metadata`` (``FLOPs``, ``Parameters``, ``Training Data``), ``In Collection``,
``Results`` (``Task``, ``Dataset``, ``Metrics: Top 1 Accuracy``), ``Weights``,
``Config``), so its entry can also be pasted into a ``configs/*/metafile.yml``.

``Weights`` and ``Config`` are written relative to the metafile's folder, so a release
folder can be moved or uploaded as a whole. mmpretrain itself would resolve a relative
``Weights`` path against the working directory: register a release with
:func:`register_release`, which resolves both against the metafile's folder and checks
the checkpoint's hash before ``mmpretrain.get_model(name, pretrained=True)`` can load it.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Mapping, Optional, Union

import yaml

from ..checkpoint import check_hash_in_name
from .model_card import TASK

__all__ = ['metafile_entry', 'write_metafile', 'register_release']

_logger = logging.getLogger(__name__)
PathLike = Union[str, os.PathLike]
_registered: dict[str, str] = {}  # model name -> resolved weights path


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


def _resolve(root: Path, value: Optional[str]) -> Optional[str]:
    if not value or '://' in value or os.path.isabs(value):
        return value
    return str((root / value).resolve())


def register_release(metafile: PathLike, replace_unweighted: bool = True) -> list[str]:
    """Make ``mmpretrain.get_model`` / ``list_models`` / the inferencer find a release.

    ``Weights`` and ``Config`` are resolved against the metafile's folder, and each local
    checkpoint's hash is verified now. Registering the same release again does nothing.

    Args:
        metafile: A release's ``metafile.yml``.
        replace_unweighted: A name the hub already lists *without* weights (the project's
            own config entry, e.g. ``resnet18-cbam_1xb32_digits``) takes the release's
            weights, results and config; otherwise a name clash is an error.

    Returns:
        The names registered (or replaced) by this call.

    Raises:
        HashMismatchError: A checkpoint does not match the hash in its name.
        ValueError: A name the hub already lists with other weights.
    """
    from mmpretrain.apis import ModelHub
    from modelindex.load_model_index import load

    path = Path(metafile).resolve()
    index = load(str(path))
    index.build_models_with_collections()
    ModelHub._register_mmpretrain_models()  # so a clash with mmpretrain's own names shows now
    models = ModelHub._models_dict
    new = []
    for model in index.models:
        name = model.name.lower()
        weights = _resolve(path.parent, model.weights)
        if weights and '://' not in weights:
            check_hash_in_name(weights)
        if _registered.get(name) == weights:
            continue
        existing = models.get(name)
        if existing is not None and not (replace_unweighted and existing.weights is None):
            raise ValueError(f'{path}: model {model.name!r} is already in mmpretrain\'s hub with weights '
                             f'{existing.weights}; publish under another --name')
        model.weights = weights
        model.config = _resolve(path.parent, model.config)
        models[name] = model
        _registered[name] = weights
        if existing is not None:
            _logger.info('register_release: %s now has the weights %s', name, weights)
        new.append(name)
    return new
