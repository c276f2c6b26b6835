"""The model an attention-map figure is drawn for, with the weights the user points at.

``checkpoint`` may be any file the project's own flows produce:

* a training checkpoint of an mmpretrain run (``work_dirs/<run>/epoch_N.pth``; with the
  run's config, which says the architecture): converted to its timm twin
  (:func:`convattn_plugin.release.convert.pair_from_mm`, logits checked equal);
* a published release: its folder, its ``timm`` folder, or the mmpretrain ``.pth`` inside
  it (the release's timm twin is loaded, checked against the release's manifest);
* a state dict of the timm model named by ``model`` (``.pth`` / ``.safetensors``).

Every file is read by :func:`convattn_plugin.checkpoint.load_weights` (``torch.load(weights_only=True)``
with mmengine's logging objects allowed by
:func:`convattn_plugin.mm.checkpoint_compat.allow_mmengine_checkpoints`, or safetensors; a
sha256 prefix in a name is checked, compressed archives and NaN / inf weights are refused); a
timm folder is read by timm, and its weights are checked for NaN / inf the same way. Anything
else is refused with one line saying which file to use.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import torch.nn as nn

from .model_spec import build_model, parse_model

__all__ = ['model_for_maps', 'WeightsError']


class WeightsError(ValueError):
    """The checkpoint cannot be drawn; the message says in one line which file to give."""


def model_for_maps(model: str, checkpoint: Optional[str] = None, config: Optional[str] = None,
                   num_classes: int = 1000) -> tuple[nn.Module, dict, str]:
    """``(model in eval mode, timm data config, description of the weights)``.

    Args:
        model: Model name (grammar of :mod:`.model_spec`); ignored for releases and
            training checkpoints, which carry their own architecture.
        checkpoint: See the module docstring; ``None``: random weights (timm's ResNets then
            keep every block's last BatchNorm non-zero, so the gates see real features).
        config: The mmpretrain config of a training checkpoint.
        num_classes: Classifier width of a model built from ``model``.
    """
    import timm

    if checkpoint is None:
        spec = parse_model(model)
        net = build_model(spec, num_classes=num_classes, zero_init_last=False if 'resnet' in spec.arch else None)
        return net.eval(), timm.data.resolve_data_config({}, model=net), 'random weights'
    path = Path(checkpoint)
    if not path.exists():
        raise WeightsError(f'--checkpoint {checkpoint}: no such file or folder')
    if path.is_dir():
        return _release_folder(path)
    if path.suffix == '.pth' and (path.parent / 'metafile.yml').is_file():
        net, data, _ = _release_folder(path.parent)
        return net, data, f'release {path.parent.name} (timm twin of {path.name})'
    return _weights_file(path, model, config, num_classes)


def _timm_folder(folder: Path) -> nn.Module:
    from ..checkpoint import check_finite
    from ..release.load import load_timm_release

    net = load_timm_release(folder)
    check_finite(net.state_dict(), str(folder / 'model.safetensors'))
    return net


def _release_folder(folder: Path) -> tuple[nn.Module, dict, str]:
    from ..release.load import find_release_files

    if (folder / 'config.json').is_file() and (folder / 'model.safetensors').is_file():
        net = _timm_folder(folder)
        return net, dict(net.pretrained_cfg), f'timm folder {folder}'
    if (folder / 'metafile.yml').is_file():
        _, _, timm_dir = find_release_files(folder)
        net = _timm_folder(timm_dir)
        return net, dict(net.pretrained_cfg), f'release {folder.name}'
    raise WeightsError(f'--checkpoint {folder}: a folder must be a release (with metafile.yml) or its timm folder '
                       '(config.json + model.safetensors)')


def _weights_file(path: Path, model: str, config: Optional[str], num_classes: int) -> tuple[nn.Module, dict, str]:
    import timm

    from ..checkpoint import load_weights
    from ..models.pretrained import diff_state_dict

    try:
        from ..mm.checkpoint_compat import allow_mmengine_checkpoints
        allow_mmengine_checkpoints()
    except ImportError:  # mmengine absent: only plain state dicts can be read anyway
        pass
    obj = load_weights(path)
    state_dict = obj.get('state_dict', obj) if isinstance(obj, dict) else obj
    if not isinstance(state_dict, dict):
        raise WeightsError(f'--checkpoint {path}: holds a {type(obj).__name__}, not weights')
    if any(k.startswith(('backbone.', 'head.')) for k in state_dict):
        return _mm_training_checkpoint(path, obj, config)
    net = build_model(parse_model(model), num_classes=num_classes)
    report = diff_state_dict(net.state_dict(), state_dict)
    if report.missing_keys or report.unexpected_keys or report.mismatched_keys:
        raise WeightsError(f'--checkpoint {path}: not weights of --model {model} ({len(report.missing_keys)} missing, '
                           f'{len(report.unexpected_keys)} unexpected, {len(report.mismatched_keys)} shape-mismatched '
                           'keys); give the --model it was trained as, or a release folder / training checkpoint '
                           'with --config')
    net.load_state_dict(state_dict)
    return net.eval(), timm.data.resolve_data_config({}, model=net), f'weights {path.name}'


def _mm_training_checkpoint(path: Path, ckpt: dict, config: Optional[str]) -> tuple[nn.Module, dict, str]:
    if not config:
        raise WeightsError(f'--checkpoint {path} is an mmpretrain checkpoint: add --config with the config it was '
                           'trained with (e.g. configs/resnet_cbam/resnet18-cbam_1xb32_digits.py), or pass its '
                           'published release folder')
    if not os.path.isfile(config):
        raise WeightsError(f'--config {config}: no such file')
    from ..release.convert import pair_from_mm

    pair = pair_from_mm(config, ckpt, checkpoint_name=path.name)
    return pair.timm_model.eval(), dict(pair.data_config), f'{path.name} ({Path(config).stem}, as timm)'
