"""Preprocessing, both ways: mmpretrain's ``data_preprocessor`` + test pipeline <-> timm's data config.

mmpretrain: ``Resize`` / ``ResizeEdge`` + ``CenterCrop`` in the test pipeline, mean and std
on 0-255 in the ``data_preprocessor``. timm: ``input_size``, ``interpolation``, ``crop_pct``,
``crop_mode``, mean and std on 0-1.
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Mapping, Optional

from .key_mapping import ConversionError

__all__ = ['timm_data_config', 'mm_preprocessing']

_INTERPOLATIONS = ('bilinear', 'bicubic', 'nearest', 'lanczos')


def _hw(size: Any) -> tuple[int, int]:
    """mmcv sizes are ``(w, h)`` or one int."""
    if isinstance(size, int):
        return size, size
    w, h = size
    return int(h), int(w)


def _data_preprocessor(cfg: Mapping[str, Any]) -> dict[str, Any]:
    model = cfg.get('model', {}) or {}
    return dict(model.get('data_preprocessor') or cfg.get('data_preprocessor') or {})


def _test_pipeline(cfg: Mapping[str, Any]) -> list[dict]:
    loader = cfg.get('test_dataloader') or cfg.get('val_dataloader') or {}
    pipeline = (loader.get('dataset') or {}).get('pipeline') or cfg.get('test_pipeline') or []
    return [dict(t) for t in pipeline]


def _train_crop(cfg: Mapping[str, Any]) -> Optional[tuple[int, int]]:
    loader = cfg.get('train_dataloader') or {}
    for t in (loader.get('dataset') or {}).get('pipeline') or []:
        if t.get('type') in ('RandomCrop', 'RandomResizedCrop', 'CenterCrop'):
            size = t.get('crop_size', t.get('scale'))
            if size is not None:
                return _hw(size)
    return None


def timm_data_config(cfg: Mapping[str, Any], input_size: Optional[tuple[int, int]] = None) -> dict[str, Any]:
    """timm's data config for an mmpretrain config's test-time preprocessing.

    ``Resize(scale=(w, h))`` gives ``crop_mode='squash'`` (both edges scaled, no crop);
    ``ResizeEdge(scale=s)`` + ``CenterCrop(crop_size=c)`` gives ``crop_mode='center'``,
    ``crop_pct = c / s``. Mean and std are divided by 255 (timm normalises images in 0-1).

    Args:
        cfg: The mmpretrain config (``data_preprocessor`` and ``test_dataloader``).
        input_size: ``(h, w)`` when the test pipeline neither resizes nor crops (CIFAR
            configs); defaults to the training crop.

    Returns:
        ``input_size``, ``interpolation``, ``crop_pct``, ``crop_mode``, ``mean``, ``std``.
    """
    resize: Optional[tuple[int, int]] = None
    crop: Optional[tuple[int, int]] = None
    mode, interpolation = 'squash', 'bilinear'
    for t in _test_pipeline(cfg):
        kind = t.get('type')
        if kind == 'Resize':
            if t.get('scale') is None:
                warnings.warn(f'{t}: a Resize by scale_factor has no timm equivalent; ignored')
                continue
            if t.get('keep_ratio'):
                warnings.warn(f'{t}: only Resize(keep_ratio=False) maps to timm exactly; '
                              'the timm preprocessing squashes the image to the size instead')
            resize, mode = _hw(t['scale']), 'squash'
            interpolation = t.get('interpolation', 'bilinear')
        elif kind == 'ResizeEdge':
            if t.get('edge', 'short') != 'short':
                warnings.warn(f"{t}: timm resizes the short edge; edge={t['edge']!r} is approximated")
            resize, mode = _hw(t['scale']), 'center'
            interpolation = t.get('interpolation', 'bilinear')
        elif kind == 'CenterCrop':
            crop = _hw(t['crop_size'])
        elif kind not in ('LoadImageFromFile', 'PackInputs', 'PackClsInputs', None):
            warnings.warn(f'test transform {kind} has no timm equivalent; the timm preprocessing ignores it')
    if interpolation not in _INTERPOLATIONS:
        warnings.warn(f'interpolation {interpolation!r} is not one of timm\'s {_INTERPOLATIONS}; using bilinear')
        interpolation = 'bilinear'
    size = crop or resize or input_size or _train_crop(cfg)
    if size is None:
        raise ConversionError('the config\'s test pipeline gives no image size (no Resize / ResizeEdge / '
                              'CenterCrop, no training crop); pass input_size=(h, w)')
    crop_pct = 1.0 if not (crop and resize) else crop[0] / resize[0]
    if resize is None:
        mode = 'center'

    pre = _data_preprocessor(cfg)
    channels = 3
    if pre.get('mean') is None:
        mean, std = (0.0,) * channels, (1 / 255,) * channels  # mm feeds raw 0-255 values
    else:
        mean = tuple(float(m) / 255 for m in pre['mean'])
        std = tuple(float(s) / 255 for s in pre['std'])
    if not pre.get('to_rgb', False) and len(set(pre.get('mean') or [0])) > 1:
        warnings.warn('data_preprocessor.to_rgb is False: the model saw channels in the order its dataset '
                      'gives them; timm feeds RGB, so a dataset loaded by OpenCV (BGR) would differ')
    return dict(input_size=(channels, *size), interpolation=interpolation, crop_pct=crop_pct, crop_mode=mode,
                mean=mean, std=std)


def mm_preprocessing(pretrained_cfg: Mapping[str, Any], num_classes: int) -> tuple[dict, list[dict]]:
    """mmpretrain's ``data_preprocessor`` and test pipeline for a timm data config.

    The inverse of :func:`timm_data_config`. ``to_rgb=True``: timm models take RGB, while
    mmpretrain's image loading gives BGR.
    """
    _, h, w = pretrained_cfg.get('input_size', (3, 224, 224))
    pct = float(pretrained_cfg.get('crop_pct') or 0.875)
    interpolation = pretrained_cfg.get('interpolation', 'bilinear')
    if pretrained_cfg.get('crop_mode', 'center') == 'squash':
        pipeline = [dict(type='Resize', scale=(math.floor(w / pct), math.floor(h / pct)), interpolation=interpolation)]
    else:
        if pretrained_cfg.get('crop_mode', 'center') != 'center':
            warnings.warn(f"timm crop_mode {pretrained_cfg['crop_mode']!r} is approximated by ResizeEdge + CenterCrop")
        pipeline = [dict(type='ResizeEdge', scale=math.floor(min(h, w) / pct), edge='short',
                         interpolation=interpolation)]
    if pct != 1.0 or pretrained_cfg.get('crop_mode', 'center') != 'squash':
        pipeline.append(dict(type='CenterCrop', crop_size=(w, h)))
    pipeline.append(dict(type='PackInputs'))
    mean = [float(m) * 255 for m in pretrained_cfg.get('mean', (0.485, 0.456, 0.406))]
    std = [float(s) * 255 for s in pretrained_cfg.get('std', (0.229, 0.224, 0.225))]
    pre = dict(type='ClsDataPreprocessor', num_classes=num_classes, mean=mean, std=std, to_rgb=True)
    return pre, pipeline
