"""A release's ``metafile.yml`` and its registration into mmpretrain's model hub.

The metafile is mmpretrain's format (``Collections`` / ``Models`` with ``Name``,
``Metadata`` (``FLOPs``, ``Parameters``, ``Training Data``), ``In Collection``,
``Results`` (``Task``, ``Dataset``, ``Metrics: Top 1 Accuracy``), ``Weights``,
``Config``), so its entry can also be pasted into a ``configs/*/metafile.yml``.

``Weights`` and ``Config`` are written relative to the metafile's folder, so a release
folder can be moved or uploaded as a whole. mmpretrain itself would resolve a relative
``Weights`` path against the working directory, and execute a ``.py`` config: register a
release with :func:`register_release`, which checks the folder as every loader does
(:func:`.release_files.release_entry`) and hands mmpretrain the config as checked data
(:func:`convattn_plugin.mm.config_schema.read_config`), before ``mmpretrain.get_model(name, pretrained=True)``
can load anything.
"""
from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any, Mapping, Optional, Union

import yaml

from ..mm.config_schema import read_config
from ..mm.hub import configs_root
from .model_card import TASK
from .release_files import METAFILE, UnsafeReleaseError, release_entry

__all__ = ['metafile_entry', 'write_metafile', 'register_release']

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


def _project_config(model: Any) -> bool:
    """Whether an mmpretrain hub model is one of the project's own config entries."""
    root = configs_root()
    config = getattr(model, 'config', None)
    return root is not None and isinstance(config, (str, os.PathLike)) \
        and Path(config).resolve().is_relative_to(root.resolve())


def register_release(metafile: PathLike, replace_unweighted: bool = True) -> list[str]:
    """Make ``mmpretrain.get_model`` / ``list_models`` / the inferencer find a release.

    The release is checked as every loader checks it (:func:`.release_files.release_entry`):
    one model, every path inside the folder, the metafile, config, checkpoint and timm folder
    covered by ``manifest.json`` and matching it (each file hashed once), the checkpoint's
    name matching its hash (or a URL with a hash in its name, verified at download). The
    config is read through the release config schema (:func:`convattn_plugin.mm.config_schema.read_config`)
    and handed to mmpretrain as a ``Config``, so nothing from the release is executed.
    Registering the same release again does nothing.

    Args:
        metafile: A release's ``metafile.yml``.
        replace_unweighted: The release may take the name of one of the project's own config
            entries that has no weights (e.g. ``resnet18-cbam_1xb32_digits``): it then gets the
            release's weights, results and config. Any other name the hub knows (mmpretrain's
            own, weighted or not) is an error.

    Returns:
        The names registered (or replaced) by this call.

    Raises:
        HashMismatchError: A file does not match the manifest or the hash in its name.
        UnsafeReleaseError: Not one model, a path leaving the folder, a file the manifest does not
            cover, a name that is not a plain model name, or a config outside the schema.
        ValueError: A name the hub already lists that the release may not replace.
    """
    import convattn_plugin.mm  # noqa: F401  (the backbones, and safe URL loading in mmengine)
    from mmpretrain.apis import ModelHub
    from modelindex.models.Model import Model

    path = Path(metafile).resolve()
    if path.name != METAFILE:
        raise UnsafeReleaseError(f'{path}: register a release by its {METAFILE}')
    root = path.parent
    entry, config_path, weights, _ = release_entry(root)
    name = str(entry.get('Name', ''))
    if not _NAME.match(name):
        raise UnsafeReleaseError(f'{path}: model name {name!r}: expected letters, digits, ".", "_", "-"')
    key = name.lower()
    if _registered.get(key) == weights:
        return []
    config = read_config(config_path)
    # Private ModelHub API: mmpretrain 1.2 has no public way to add one model (pyproject bounds it <1.3).
    ModelHub._register_mmpretrain_models()  # so a clash with mmpretrain's own names shows now
    models = ModelHub._models_dict
    existing = models.get(key)
    if existing is not None:
        if key in _registered or not replace_unweighted or existing.weights is not None \
                or not _project_config(existing):
            owner = 'one of the project\'s configs' if _project_config(existing) else 'not one of the project\'s configs'
            raise ValueError(f'{path}: model {name!r} is already in mmpretrain\'s hub ({owner}, weights '
                             f'{existing.weights}); a release may only take the name of a project config without '
                             'weights: publish under another --name')
    model = Model.from_dict({k: v for k, v in entry.items() if k not in ('Weights', 'Config')}, str(path))
    model.weights = weights
    model.config = config
    models[key] = model
    _registered[key] = weights
    if existing is not None:
        _logger.info('register_release: %s now has the weights %s', name, weights)
    return [key]
