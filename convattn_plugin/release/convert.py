"""Convert a trained model between mmpretrain and timm, files in and files out.

mmpretrain -> timm: an mmpretrain config and checkpoint (a training checkpoint or a
published one) become the folder ``timm.create_model('local-dir:<folder>', pretrained=True)``
and transformers' ``AutoModelForImageClassification.from_pretrained(<folder>)`` read, written
by timm's own ``save_for_hf`` (``config.json``, ``model.safetensors``) plus a ``README.md``
model card::

    pair = pair_from_mm('configs/resnet_cbam/resnet18-cbam_1xb32_digits.py', 'work_dirs/.../epoch_4.pth')
    write_timm_folder(pair, 'out/timm')

timm -> mmpretrain: such a folder becomes an mmpretrain config, as JSON data, and a
checkpoint named with its sha256 (``<name>_<YYYYMMDD>-<sha8>.pth``)::

    pair = pair_from_timm('out/timm')
    config, checkpoint = write_mm_files(pair, 'out/mm', 'resnet18-cbam_digits')

Both directions load every tensor strictly (:mod:`.keys`: a checkpoint of another
architecture is refused with the list of keys) and check that the two models give the same
logits on a random input (atol 1e-5) before anything is written. The key mapping is in
:mod:`.key_mapping`, the preprocessing in :mod:`.preprocessing`. Files are read with
``weights_only=True`` or as safetensors only, after the hash a name carries is verified;
``config.json``'s model arguments must be plain data with identifier keys.

:func:`convert_mm_to_timm` and :func:`convert_timm_to_mm` write their output folder through the
release writer (:mod:`.staging`): checked before any work (no symlink, no file, nothing replaced
without ``overwrite``), staged beside it and moved into place whole; a file stem is a plain name
(:func:`~.staging.check_release_name`), so nothing is written outside the folder.
"""
from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any, Mapping, Optional, Union

import torch
import torch.nn as nn

from ..checkpoint import load_weights
from ..mm.config_schema import CUSTOM_IMPORTS, read_config, write_config
from .checkpoint_io import extract_state_dict, read_checkpoint, sanitize_meta, save_mm_checkpoint
from .hf_config import fix_model_args, hf_model_args, hf_model_config, release_pretrained_cfg, timm_config_args
from .key_mapping import (ConversionError, mm_model_cfg, mm_to_timm_state_dict, spec_from_mm_model, spec_from_timm,
                          timm_to_mm_state_dict)
from ..models.pretrained import load_state_dict_strict
from .model_card import build_model_card, render_model_card
from .model_pair import ATOL, ModelPair
from .preprocessing import mm_preprocessing, timm_data_config
from .release_files import make_ordinary
from .staging import check_out_dir, check_release_name, staged_folder

__all__ = [
    'build_mm_model', 'check_same_logits', 'pair_from_mm', 'pair_from_mm_model', 'pair_from_timm',
    'write_timm_folder', 'write_mm_files', 'convert_mm_to_timm', 'convert_timm_to_mm',
]

PathLike = Union[str, os.PathLike]


def build_mm_model(config: Any, cfg_options: Optional[Mapping[str, Any]] = None) -> nn.Module:
    """Build an mmpretrain classifier (no weights) from a config file, a ``Config`` or a dict.

    ``mmpretrain.get_model`` does the building, so ``_config`` and ``_dataset_meta`` are set
    as for any mmpretrain model (the inferencer needs them). A ``.json`` file is read as a
    release config (:func:`convattn_plugin.mm.config_schema.read_config`: data only); a ``.py`` file is the
    user's own config and is executed by mmengine as usual.
    """
    import mmpretrain
    from mmengine.config import Config

    if isinstance(config, Config):
        cfg = copy.deepcopy(config)
    elif isinstance(config, Mapping):
        cfg = Config(dict(config))
    elif str(config).endswith('.json'):
        cfg = read_config(config)  # a release's config: data, checked, nothing executed
    else:
        cfg = Config.fromfile(str(config))  # the user's own training config
    if cfg_options:
        cfg.merge_from_dict(dict(cfg_options))
    return mmpretrain.get_model(cfg).eval()


def check_same_logits(mm_model: nn.Module, timm_model: nn.Module, input_size: tuple[int, ...],
                      atol: float = ATOL, batch: int = 2) -> float:
    """Run both models on one random batch; raise unless their logits agree within ``atol``.

    Returns:
        The largest absolute difference.

    Raises:
        ConversionError: The logits differ (the conversion would change the model).
    """
    x = torch.randn(batch, *input_size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        mm_logits = mm_model.eval()(x, mode='tensor')
        timm_logits = timm_model.eval()(x)
    if mm_logits.shape != timm_logits.shape:
        raise ConversionError(f'logits of shape {tuple(mm_logits.shape)} (mmpretrain) and '
                              f'{tuple(timm_logits.shape)} (timm)')
    diff = float((mm_logits - timm_logits).abs().max())
    if not diff <= atol:
        raise ConversionError(f'the timm and mmpretrain models give different logits (max |diff| {diff:.3g} '
                              f'> {atol}): the layouts do not describe the same function')
    return diff


def pair_from_mm(config: Any, checkpoint: Union[PathLike, Mapping[str, Any]],
                 cfg_options: Optional[Mapping[str, Any]] = None, use_ema: bool = True,
                 input_size: Optional[tuple[int, int]] = None, checkpoint_name: Optional[str] = None) -> ModelPair:
    """Load an mmpretrain checkpoint and build its timm twin.

    Args:
        config: The training config (file, ``Config`` or dict).
        checkpoint: A checkpoint path, or an already read checkpoint dict.
        cfg_options: Overrides merged into the config (as ``--cfg-options``).
        use_ema: See :func:`extract_state_dict`.
        input_size: ``(h, w)`` for configs whose test pipeline gives no size.
        checkpoint_name: Names the checkpoint in error messages (default: its file name).

    Raises:
        ArchitectureMismatchError: The checkpoint is not of the config's architecture.
        ConversionError: The model has no timm equivalent, or the logits differ.
    """
    what = checkpoint_name or (Path(checkpoint).name if isinstance(checkpoint, (str, os.PathLike))
                               else 'the checkpoint')
    ckpt = read_checkpoint(checkpoint) if isinstance(checkpoint, (str, os.PathLike)) else dict(checkpoint)
    state_dict = extract_state_dict(ckpt, use_ema)
    mm_model = build_mm_model(config, cfg_options)
    cfg_name = Path(str(config)).stem if isinstance(config, (str, os.PathLike)) else 'the config'
    return pair_from_mm_model(mm_model, state_dict, dict(ckpt.get('meta') or {}), what, f'the model of {cfg_name}',
                              input_size)


def pair_from_mm_model(mm_model: nn.Module, state_dict: Mapping[str, torch.Tensor],
                       meta: Optional[Mapping[str, Any]] = None, what: str = 'the checkpoint',
                       model_name: str = 'the mmpretrain model',
                       input_size: Optional[tuple[int, int]] = None) -> ModelPair:
    """:func:`pair_from_mm` for a built mmpretrain model and its state dict.

    Raises:
        ArchitectureMismatchError: ``state_dict`` is not of ``mm_model``'s architecture.
        ConversionError: The model has no timm equivalent, or the logits differ.
    """
    load_state_dict_strict(mm_model, state_dict, what, model_name)
    spec = spec_from_mm_model(mm_model)
    timm_model = spec.create().eval()
    load_state_dict_strict(timm_model, mm_to_timm_state_dict(state_dict, spec), what, f'timm {spec.model_name}')
    data_config = timm_data_config(mm_model._config, input_size)
    diff = check_same_logits(mm_model, timm_model, data_config['input_size'])
    return ModelPair(mm_model, timm_model, spec, data_config, dict(meta or {}), diff)


def _read_timm_folder(folder: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    cfg_file = folder / 'config.json'
    if not cfg_file.is_file():
        raise FileNotFoundError(f'{folder} is not a timm model folder: no config.json')
    hf_config = json.loads(cfg_file.read_text())
    if not isinstance(hf_config, dict) or not isinstance(hf_config.get('architecture'), str):
        raise ConversionError(f'{cfg_file}: expected a JSON object with "architecture" (a timm model name)')
    for name in ('model.safetensors', 'pytorch_model.bin', 'pytorch_model.pth', 'model.pth'):
        if (folder / name).is_file():
            state_dict = dict(load_weights(folder / name))  # safetensors, or weights_only; NaN / inf refused
            return hf_config, state_dict
    raise FileNotFoundError(f'{folder}: no model.safetensors / pytorch_model.bin')


def pair_from_timm(folder: PathLike) -> ModelPair:
    """Load a timm model folder (``config.json`` + weights) and build its mmpretrain twin.

    The mmpretrain config is generated: ``ConvAttnBackbone(arch=<architecture>)`` with the
    ``model_args``, ``GlobalAveragePooling``, ``LinearClsHead`` or ``StackedLinearClsHead``,
    and the preprocessing of ``pretrained_cfg`` (:func:`.preprocessing.mm_preprocessing`).

    Raises:
        ArchitectureMismatchError: The weights are not of ``config.json``'s architecture.
        ConversionError: The model has no mmpretrain equivalent, or the logits differ.
    """
    folder = Path(folder)
    hf_config, state_dict = _read_timm_folder(folder)
    spec = spec_from_timm(hf_config['architecture'], timm_config_args(hf_config))
    timm_model = spec.create().eval()
    load_state_dict_strict(timm_model, state_dict, f'{folder.name}/model weights', f'timm {spec.model_name}')
    pretrained_cfg = dict(hf_config.get('pretrained_cfg') or {})
    data_preprocessor, pipeline = mm_preprocessing(pretrained_cfg, spec.num_classes)
    cfg = dict(
        custom_imports=CUSTOM_IMPORTS,
        default_scope='mmpretrain',
        model=mm_model_cfg(spec, timm_model.num_features),
        data_preprocessor=data_preprocessor,
        # The inferencer reads its pipeline from here; no data set is needed to predict.
        test_pipeline=pipeline,
        test_dataloader=dict(batch_size=1, num_workers=0,
                             dataset=dict(type='CustomDataset', data_root='', pipeline=pipeline),
                             sampler=dict(type='DefaultSampler', shuffle=False)),
    )
    mm_model = build_mm_model(cfg)
    mm_state = timm_to_mm_state_dict(state_dict, spec)
    load_state_dict_strict(mm_model, mm_state, f'{folder.name}/model weights', 'the generated mmpretrain model')
    data_config = dict(input_size=tuple(pretrained_cfg.get('input_size', (3, 224, 224))),
                       **{k: pretrained_cfg[k] for k in ('interpolation', 'crop_pct', 'crop_mode', 'mean', 'std')
                          if k in pretrained_cfg})
    diff = check_same_logits(mm_model, timm_model, data_config['input_size'])
    labels = hf_config.get('label_names')
    meta = dict(dataset_meta=dict(classes=list(labels)) if isinstance(labels, (list, tuple)) else {},
                converted_from=f'timm {spec.model_name} ({folder.name})')
    return ModelPair(mm_model, timm_model, spec, data_config, meta, diff)


def write_timm_folder(pair: ModelPair, out_dir: PathLike, model_card: Optional[dict[str, Any]] = None,
                      model_name: Optional[str] = None) -> Path:
    """Write what timm's ``push_to_hf_hub(..., safe_serialization=True)`` uploads.

    ``config.json`` (architecture, num_classes, label_names, model_args, pretrained_cfg with
    the preprocessing) and ``model.safetensors`` by timm's ``save_for_hf``, and ``README.md``
    (:func:`.model_card.render_model_card`, timm's card layout) from ``model_card``.

    Args:
        pair: From :func:`pair_from_mm` or :func:`pair_from_timm`.
        out_dir: The folder (created).
        model_card: Fields of timm's model card (see :mod:`.model_card`); a card of the
            model's facts when omitted.
        model_name: The card's title (the Hub repository's name).
    """
    from timm.models import save_for_hf

    out_dir = Path(out_dir)
    model_config = hf_model_config(pair)
    release_pretrained_cfg(pair.timm_model)
    save_for_hf(pair.timm_model, out_dir, model_config=model_config, model_args=hf_model_args(pair),
                safe_serialization=True, data_config=pair.data_config)
    make_ordinary(out_dir / 'model.safetensors')  # safetensors writes it 0600
    fix_model_args(out_dir / 'config.json')
    card = model_card if model_card is not None else build_model_card(pair)
    (out_dir / 'README.md').write_text(render_model_card(card, model_name or pair.spec.model_name), encoding='utf-8')
    return out_dir


def write_mm_files(pair: ModelPair, out_dir: PathLike, stem: str, date: Optional[str] = None) -> tuple[Path, Path]:
    """Write the mmpretrain config ``<stem>.json`` and checkpoint ``<stem>_<date>-<sha8>.pth``.

    The config is JSON data (:func:`convattn_plugin.mm.config_schema.write_config`): loading it runs no code,
    and mmengine's ``Config.fromfile`` and mmpretrain's tools read it too. The checkpoint holds
    only ``state_dict`` and ``meta`` (plain Python values), so it loads with
    ``torch.load(weights_only=True)`` and no allow-list.

    Raises:
        ValueError: ``stem`` is not a plain file name (:func:`~.staging.check_release_name`).
    """
    import mmpretrain

    check_release_name(stem, 'stem')
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    config = write_config(pair.mm_model._config, out_dir / f'{stem}.json')
    meta = dict(sanitize_meta(pair.meta), mmpretrain_version=mmpretrain.__version__)
    state_dict = {k: v.detach().clone().contiguous() for k, v in pair.mm_model.state_dict().items()}
    checkpoint = save_mm_checkpoint(dict(state_dict=state_dict, meta=meta), out_dir, stem, date)
    return config, checkpoint


def convert_mm_to_timm(config: Any, checkpoint: PathLike, out_dir: PathLike,
                       cfg_options: Optional[Mapping[str, Any]] = None, use_ema: bool = True,
                       input_size: Optional[tuple[int, int]] = None, overwrite: bool = False) -> Path:
    """mmpretrain config + checkpoint -> timm folder (see :func:`pair_from_mm`, :func:`write_timm_folder`).

    ``out_dir`` is checked before any work and written whole (:mod:`.staging`); an existing
    folder with files is replaced only with ``overwrite``.
    """
    out = check_out_dir(out_dir, overwrite)
    pair = pair_from_mm(config, checkpoint, cfg_options, use_ema, input_size)
    with staged_folder(out) as staged:
        write_timm_folder(pair, staged)
    return out


def convert_timm_to_mm(folder: PathLike, out_dir: PathLike, stem: Optional[str] = None,
                       overwrite: bool = False) -> tuple[Path, Path]:
    """timm folder -> mmpretrain config and hashed checkpoint; returns their paths.

    Args:
        folder: A folder with ``config.json`` and ``model.safetensors``.
        out_dir: Where the two files go: checked before any work and written whole
            (:mod:`.staging`); an existing folder with files is replaced only with ``overwrite``.
        stem: File name stem (a plain name: no ``/``, no ``..``); default the timm model name.

    Raises:
        ValueError: ``stem`` is not a plain name, or ``out_dir`` is a symlink or a file.
        FileExistsError: ``out_dir`` holds files and ``overwrite`` is False.
    """
    if stem is not None:
        check_release_name(stem)
    out = check_out_dir(out_dir, overwrite)
    pair = pair_from_timm(folder)
    with staged_folder(out) as staged:
        config, checkpoint = write_mm_files(pair, staged, stem or pair.spec.model_name)
    return out / config.name, out / checkpoint.name
