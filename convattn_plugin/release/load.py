"""Load a release back, in timm and in mmpretrain, and check the two agree.

The plain library calls work on a release as they are (that is the point of it)::

    timm.create_model('local-dir:<release>/timm', pretrained=True)
    timm.create_model(**timm_create_kwargs('<release>/timm'))   # name + pretrained_cfg_overlay(file=...)
    transformers.AutoModelForImageClassification.from_pretrained('<release>/timm')
    register_release('<release>/metafile.yml'); mmpretrain.get_model('<name>', pretrained=True)

mmengine's loader does not refuse missing keys (it warns): :func:`load_mm_release` does, after
checking the files against the release's ``manifest.json`` (:mod:`.release_files`) and reading
its config through the release config schema (:mod:`convattn_plugin.mm.config_schema`); :func:`verify_release` runs all of the above on one input and
compares the logits. Nothing a release holds is executed.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional, Union

import torch
import torch.nn as nn

from ..checkpoint import check_finite, is_url, load_weights
from .convert import build_mm_model
from .hf_config import timm_config_args
from ..models.pretrained import load_state_dict_strict
from .model_pair import ATOL
from ..mm.config_schema import read_config
from .release_files import MANIFEST, METAFILE, TIMM_FOLDER, UnsafeReleaseError, release_entry

__all__ = ['TIMM_FOLDER', 'timm_create_kwargs', 'load_timm_release', 'load_mm_release', 'find_release_files',
           'verify_release']

PathLike = Union[str, os.PathLike]


def timm_create_kwargs(folder: PathLike) -> dict[str, Any]:
    """``timm.create_model`` keyword arguments that load a timm folder by model name.

    ``dict(model_name=..., pretrained=True, **model_args, pretrained_cfg_overlay=dict(file=...,
    num_classes=..., <preprocessing>))``. ``num_classes`` goes into the overlay too: timm
    drops a classifier whose size differs from the cfg's (1000 for the untrained models).
    """
    folder = Path(folder)
    hf_config = json.loads((folder / 'config.json').read_text())
    args = timm_config_args(hf_config)
    num_classes = args['num_classes']
    pcfg = hf_config.get('pretrained_cfg') or {}
    overlay = {k: pcfg[k] for k in ('input_size', 'interpolation', 'crop_pct', 'crop_mode', 'mean', 'std')
               if k in pcfg}
    overlay.update(file=str(folder / 'model.safetensors'), num_classes=num_classes)
    return dict(model_name=hf_config['architecture'], pretrained=True, pretrained_cfg_overlay=overlay, **args)


def load_timm_release(folder: PathLike) -> nn.Module:
    """``timm.create_model('local-dir:<folder>', pretrained=True)`` in eval mode.

    timm reads ``model.safetensors`` (no pickle). When the folder is a release's timm folder
    (a ``manifest.json`` beside it), the release is checked first (:func:`find_release_files`);
    NaN / inf weights are refused either way.

    Raises:
        NonFiniteWeightsError: The weights hold NaN or inf values (named).
    """
    import timm

    folder = Path(folder).resolve()
    if (folder.parent / MANIFEST).is_file() and folder.name == TIMM_FOLDER:
        find_release_files(folder.parent)
    model = timm.create_model(f'local-dir:{folder}', pretrained=True).eval()
    check_finite(model.state_dict(), f'{folder}/model.safetensors')
    return model


def find_release_files(root: PathLike) -> tuple[Path, Union[Path, str], Path]:
    """``(config, checkpoint, timm folder)`` of a release folder, from its ``metafile.yml``.

    Checked as :func:`.release_files.release_entry` checks a release: one model, every file
    inside ``root`` and covered by (and matching) ``manifest.json``; the checkpoint may instead
    be a URL whose name carries its hash (checked when it is downloaded).

    Raises:
        UnsafeReleaseError: Not one model, a path leaves the folder, or a file is not covered by the manifest.
        HashMismatchError: A file differs from the manifest or from the hash in its name.
    """
    _, config, weights, timm_dir = release_entry(root)
    return config, (weights if is_url(weights) else Path(weights)), timm_dir


def _config_beside(checkpoint: Path) -> Path:
    root = checkpoint.parent
    if (root / METAFILE).is_file():
        _, config, weights, _ = release_entry(root)
        if Path(weights).name == checkpoint.name:
            return config
        raise UnsafeReleaseError(f'{root}/{METAFILE} names the weights {Path(weights).name}, not {checkpoint.name}; '
                                 'give the config of this checkpoint')
    raise FileNotFoundError(f'no config given for {checkpoint} and no {METAFILE} beside it names one')


def load_mm_release(checkpoint: PathLike, config: Optional[Any] = None) -> nn.Module:
    """An mmpretrain model with a published checkpoint, hash-checked and loaded strictly.

    Args:
        checkpoint: ``<name>_<date>-<sha8>.pth`` (or its URL); its sha256 must start with ``<sha8>``.
        config: Its config (a ``.json`` release config is read as data); default the one
            ``metafile.yml`` beside it names, checked against the release's manifest.

    Returns:
        The model in eval mode, ``dataset_meta`` from the checkpoint; it can be passed to
        ``ImageClassificationInferencer(model)``.

    Raises:
        HashMismatchError: The file does not match the hash in its name (or the manifest).
        UnsafeReleaseError: The metafile names a path outside the release, or a config that is not data.
        ArchitectureMismatchError: Its weights are not of the config's architecture (with the keys).
    """
    if config is None:
        if is_url(checkpoint):
            raise ValueError(f'{checkpoint}: give the config of a checkpoint URL')
        config = read_config(_config_beside(Path(checkpoint)))
    ckpt = load_weights(checkpoint)  # hash check, then weights_only=True
    checkpoint = Path(str(checkpoint))
    model = build_mm_model(config)
    state_dict = ckpt['state_dict'] if 'state_dict' in ckpt else ckpt
    name = Path(str(config)).stem if isinstance(config, (str, os.PathLike)) else 'the release config'
    load_state_dict_strict(model, state_dict, checkpoint.name, f'the model of {name}')
    dataset_meta = (ckpt.get('meta') or {}).get('dataset_meta')
    if dataset_meta:
        model._dataset_meta = dataset_meta
    return model.eval()


def verify_release(root: PathLike, atol: float = ATOL) -> dict[str, float]:
    """Load a release every documented way and compare the logits on one random batch.

    Ways: timm ``local-dir:``, timm by name with ``pretrained_cfg_overlay``, mmpretrain
    ``get_model(config, pretrained=checkpoint)`` and :func:`load_mm_release`. The files are
    checked first (:func:`find_release_files`).

    Returns:
        Max absolute logit difference of each way against ``local-dir:``.

    Raises:
        AssertionError: A way differs by more than ``atol``.
    """
    import mmpretrain
    import timm

    config, checkpoint, folder = find_release_files(root)
    reference = load_timm_release(folder)
    cfg = read_config(config)
    models = {
        'timm pretrained_cfg_overlay': timm.create_model(**timm_create_kwargs(folder)).eval(),
        'mmpretrain get_model': mmpretrain.get_model(cfg, pretrained=str(checkpoint)).eval(),
        'load_mm_release': load_mm_release(checkpoint, cfg),
    }
    size = reference.pretrained_cfg['input_size']
    x = torch.randn(2, *size, generator=torch.Generator().manual_seed(1))
    diffs = {}
    with torch.no_grad():
        expected = reference(x)
        for way, model in models.items():
            out = model(x, mode='tensor') if way.startswith(('mm', 'load_mm')) else model(x)
            diffs[way] = float((out - expected).abs().max())
    bad = {k: v for k, v in diffs.items() if not v <= atol}
    if bad:
        raise AssertionError(f'{root}: logits differ from timm local-dir: by more than {atol}: {bad}')
    return diffs
