"""Load a release back, in timm and in mmpretrain, and check the two agree.

The plain library calls work on a release as they are (that is the point of it)::

    timm.create_model('local-dir:<release>/timm', pretrained=True)
    timm.create_model(**timm_create_kwargs('<release>/timm'))   # name + pretrained_cfg_overlay(file=...)
    mmpretrain.get_model('<release>/<name>.py', pretrained='<release>/<name>_<date>-<sha8>.pth')

mmengine's loader neither checks the hash in a file name nor refuses missing keys (it warns);
:func:`load_mm_release` does both, and :func:`verify_release` runs all of the above on one
input and compares the logits.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional, Union

import torch
import torch.nn as nn
import yaml

from ..checkpoint import load_weights
from .convert import ATOL, build_mm_model
from .keys import load_state_dict_strict

__all__ = ['timm_create_kwargs', 'load_timm_release', 'load_mm_release', 'find_release_files', 'verify_release']

PathLike = Union[str, os.PathLike]


def timm_create_kwargs(folder: PathLike) -> dict[str, Any]:
    """``timm.create_model`` keyword arguments that load a timm folder by model name.

    ``dict(model_name=..., pretrained=True, **model_args, pretrained_cfg_overlay=dict(file=...,
    num_classes=..., <preprocessing>))``. ``num_classes`` goes into the overlay too: timm
    drops a classifier whose size differs from the cfg's (1000 for the untrained models).
    """
    folder = Path(folder)
    hf_config = json.loads((folder / 'config.json').read_text())
    args = dict(hf_config.get('model_args') or {})
    num_classes = hf_config.get('num_classes', args.get('num_classes', 1000))
    args['num_classes'] = num_classes
    pcfg = hf_config.get('pretrained_cfg') or {}
    overlay = {k: pcfg[k] for k in ('input_size', 'interpolation', 'crop_pct', 'crop_mode', 'mean', 'std')
               if k in pcfg}
    overlay.update(file=str(folder / 'model.safetensors'), num_classes=num_classes)
    return dict(model_name=hf_config['architecture'], pretrained=True, pretrained_cfg_overlay=overlay, **args)


def load_timm_release(folder: PathLike) -> nn.Module:
    """``timm.create_model('local-dir:<folder>', pretrained=True)`` in eval mode."""
    import timm

    return timm.create_model(f'local-dir:{Path(folder).resolve()}', pretrained=True).eval()


def find_release_files(root: PathLike) -> tuple[Path, Path, Path]:
    """``(config, checkpoint, timm folder)`` of a release folder, from its ``metafile.yml``."""
    from .publish import TIMM_FOLDER

    root = Path(root)
    meta = yaml.safe_load((root / 'metafile.yml').read_text())
    models = meta.get('Models') or []
    if len(models) != 1:
        raise ValueError(f'{root}/metafile.yml lists {len(models)} models; a release has one')
    return root / models[0]['Config'], root / models[0]['Weights'], root / TIMM_FOLDER


def _config_beside(checkpoint: Path) -> Path:
    metafile = checkpoint.parent / 'metafile.yml'
    if metafile.is_file():
        for model in yaml.safe_load(metafile.read_text()).get('Models') or []:
            if Path(str(model.get('Weights'))).name == checkpoint.name and model.get('Config'):
                return checkpoint.parent / model['Config']
    raise FileNotFoundError(f'no config given for {checkpoint} and no metafile.yml beside it names one')


def load_mm_release(checkpoint: PathLike, config: Optional[Any] = None) -> nn.Module:
    """An mmpretrain model with a published checkpoint, hash-checked and loaded strictly.

    Args:
        checkpoint: ``<name>_<date>-<sha8>.pth``; its sha256 must start with ``<sha8>``.
        config: Its config; default the one ``metafile.yml`` beside it names.

    Returns:
        The model in eval mode, ``dataset_meta`` from the checkpoint; it can be passed to
        ``ImageClassificationInferencer(model)``.

    Raises:
        HashMismatchError: The file does not match the hash in its name.
        ArchitectureMismatchError: Its weights are not of the config's architecture (with the keys).
    """
    checkpoint = Path(checkpoint)
    ckpt = load_weights(checkpoint)  # hash check, then weights_only=True
    config = config if config is not None else _config_beside(checkpoint)
    model = build_mm_model(config)
    state_dict = ckpt['state_dict'] if 'state_dict' in ckpt else ckpt
    name = Path(str(config)).stem if isinstance(config, (str, os.PathLike)) else 'the config'
    load_state_dict_strict(model, state_dict, checkpoint.name, f'the model of {name}')
    dataset_meta = (ckpt.get('meta') or {}).get('dataset_meta')
    if dataset_meta:
        model._dataset_meta = dataset_meta
    return model.eval()


def verify_release(root: PathLike, atol: float = ATOL) -> dict[str, float]:
    """Load a release every documented way and compare the logits on one random batch.

    Ways: timm ``local-dir:``, timm by name with ``pretrained_cfg_overlay``, mmpretrain
    ``get_model(config, pretrained=checkpoint)`` and :func:`load_mm_release`.

    Returns:
        Max absolute logit difference of each way against ``local-dir:``.

    Raises:
        AssertionError: A way differs by more than ``atol``.
    """
    import mmpretrain
    import timm

    config, checkpoint, folder = find_release_files(root)
    reference = load_timm_release(folder)
    models = {
        'timm pretrained_cfg_overlay': timm.create_model(**timm_create_kwargs(folder)).eval(),
        'mmpretrain get_model': mmpretrain.get_model(str(config), pretrained=str(checkpoint)).eval(),
        'load_mm_release': load_mm_release(checkpoint, config),
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
