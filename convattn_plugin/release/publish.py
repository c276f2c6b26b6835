"""Publish an mmpretrain training run for timm and mmpretrain users at once.

:func:`publish` turns an mmengine training checkpoint and its config into a release
folder::

    <out>/
      <name>_<YYYYMMDD>-<sha8>.pth   mmpretrain checkpoint: state_dict + meta only, named with
                                     its sha256 as mmpretrain's publish tool names it;
                                     torch.load(weights_only=True) reads it, no allow-list
      <name>.py                      the training config, flattened (mmpretrain.get_model reads it)
      metafile.yml                   mmpretrain model-index entry (register_release)
      timm/                          what timm's push_to_hf_hub uploads:
        config.json                  architecture, num_classes, label_names, model_args,
                                     pretrained_cfg (mean, std, input size, interpolation, crop)
        model.safetensors
        README.md                    model card: task, data set, metrics from the run's logs,
                                     params, MACs/FLOPs, how to load it in timm and mmpretrain

Before writing, the weights are loaded strictly into both models and their logits compared
(atol 1e-5); :func:`convattn_plugin.release.verify_release` re-reads the written files
through timm's and mmpretrain's own loaders.
"""
from __future__ import annotations

import json
import logging
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Union

from .convert import (ModelPair, pair_from_mm, read_checkpoint, release_pretrained_cfg, sanitize_meta, write_mm_files,
                      write_timm_folder)
from .metafile import metafile_entry, write_metafile
from .model_card import build_model_card

__all__ = ['Release', 'PublishError', 'publish', 'read_metrics', 'dataset_name', 'count_model_flops',
           'hub_token', 'push_release', 'TIMM_FOLDER']

_logger = logging.getLogger(__name__)
PathLike = Union[str, os.PathLike]

#: The release's timm / Hugging Face Hub folder.
TIMM_FOLDER = 'timm'
_RUN_DIR = re.compile(r'^\d{8}_\d{6}$')
# Display names of the data sets of the project's configs (metafile "Training Data").
_DATASET_NAMES = {'SklearnDigits': 'scikit-learn digits', 'CIFAR10': 'CIFAR-10', 'CIFAR100': 'CIFAR-100',
                  'ImageNet': 'ImageNet-1k'}


class PublishError(RuntimeError):
    """Publishing cannot go on (no Hub token, no network, ...); the message says what to do."""


@dataclass
class Release:
    """What :func:`publish` wrote.

    Attributes:
        root: The release folder.
        name: Model name (the config's stem unless given), also the metafile's ``Name``.
        checkpoint: The mmpretrain checkpoint.
        config: The mmpretrain config copy.
        metafile: ``metafile.yml``.
        timm_dir: The timm / Hub folder.
        metrics: ``{'accuracy/top1': ...}`` read from the run's logs (empty if none).
        metrics_source: The log file they came from.
        params: Parameter count.
        macs: Multiply-adds of one image (``None`` if the counter is unavailable).
        flops: FLOPs of one image, attention's element-wise operations included.
        max_abs_diff: Largest logit difference between the two frameworks.
        hub_url: The Hub commit URL after ``push=True``.
    """
    root: Path
    name: str
    checkpoint: Path
    config: Path
    metafile: Path
    timm_dir: Path
    metrics: dict[str, float] = field(default_factory=dict)
    metrics_source: Optional[Path] = None
    params: int = 0
    macs: Optional[float] = None
    flops: Optional[float] = None
    max_abs_diff: float = 0.0
    hub_url: Optional[str] = None


def _accuracy_records(path: Path) -> list[dict[str, Any]]:
    records = []
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict) and any(k.startswith('accuracy/') for k in rec):
            records.append(rec)
    return records


def read_metrics(work_dir: PathLike, experiment_name: Optional[str] = None) -> tuple[dict[str, float], Optional[Path]]:
    """The last ``accuracy/*`` values mmengine logged for a run.

    mmengine writes ``<work_dir>/<timestamp>/vis_data/scalars.json`` during training (one JSON
    record per line, validation ones with ``accuracy/top1``) and ``<timestamp>/<timestamp>.json``
    for a test run. The run the checkpoint came from (its ``meta.experiment_name`` ends with
    the timestamp) is read first, then the other runs, newest first.

    Returns:
        ``({'accuracy/top1': 97.5, ...}, the file)``, or ``({}, None)`` when no run logged any.
    """
    work_dir = Path(work_dir)
    runs = sorted((d for d in work_dir.iterdir() if d.is_dir() and _RUN_DIR.match(d.name)),
                  reverse=True) if work_dir.is_dir() else []
    stamp = experiment_name[-15:] if experiment_name else None
    runs.sort(key=lambda d: d.name != stamp)  # stable: the checkpoint's run first, then newest first
    for run in runs:
        for f in (run / 'vis_data' / 'scalars.json', run / 'vis_data' / f'{run.name}.json', run / f'{run.name}.json'):
            records = _accuracy_records(f) if f.is_file() else []
            if records:
                return {k: float(v) for k, v in records[-1].items() if k.startswith('accuracy/')}, f
    return {}, None


def dataset_name(cfg: Mapping[str, Any]) -> Optional[str]:
    """Display name of the config's training data set (``'scikit-learn digits'``, ``'CIFAR-10'``)."""
    for loader in ('train_dataloader', 'test_dataloader'):
        kind = ((cfg.get(loader) or {}).get('dataset') or {}).get('type')
        if kind:
            return _DATASET_NAMES.get(kind, kind)
    return None


def count_model_flops(model: Any, input_size: tuple[int, ...]) -> tuple[Optional[float], Optional[float]]:
    """``(MACs, FLOPs)`` of one image, from :mod:`convattn_plugin.analysis.flops`.

    MACs are what timm's and mmpretrain's tables call FLOPs (convolutions and products);
    FLOPs also count the element-wise operations of the attention gates.
    """
    from ..analysis.flops import flop_breakdown

    try:
        count = flop_breakdown(model.eval(), (1, *input_size))
    except Exception as e:  # noqa: BLE001 - statistics must not block a release
        warnings.warn(f'FLOP count failed ({type(e).__name__}: {e}); the card and metafile leave FLOPs out')
        return None, None
    return float(count.macs), float(count.total)


def _collection(pair: ModelPair) -> dict[str, Any]:
    from ..layers import get_attn_info

    backbone = pair.mm_model.backbone
    arch = ['ResNet' if pair.spec.family == 'resnet' else 'VGG']
    paper = None
    if backbone.attention:
        info = get_attn_info(backbone.attention)
        arch.append(info.paper or backbone.attention)
        if info.arxiv:
            paper = {'URL': f'https://arxiv.org/abs/{info.arxiv}', 'Title': info.paper or backbone.attention}
    collection: dict[str, Any] = {'Name': f'{pair.spec.model_name} (convattn_plugin)',
                                  'Metadata': {'Architecture': arch}}
    if paper:
        collection['Paper'] = paper
    collection['Code'] = {'URL': 'convattn_plugin', 'Version': _version()}
    return collection


def _version() -> str:
    from .. import __version__
    return f'v{__version__}'


def hub_token(token: Optional[str] = None) -> str:
    """The Hugging Face token to push with: ``token``, else the logged-in one or ``HF_TOKEN``.

    Raises:
        PublishError: None is available (checked before anything is written).
    """
    try:
        from huggingface_hub import get_token
    except ImportError as e:
        raise PublishError('--push needs huggingface_hub: pip install huggingface_hub') from e
    token = token or get_token()
    if not token:
        raise PublishError('--push needs a Hugging Face token: run `huggingface-cli login` or set HF_TOKEN '
                           '(or publish without --push and upload the timm folder later)')
    return token


def push_release(pair: ModelPair, repo_id: str, model_card: dict[str, Any], token: Optional[str] = None,
                 private: bool = False, timm_dir: Optional[Path] = None) -> str:
    """Upload the timm folder's content with timm's ``push_to_hf_hub``.

    timm writes ``config.json`` and ``model.safetensors`` with ``save_for_hf`` (as
    :func:`~.convert.write_timm_folder` does) and ``README.md`` from ``model_card`` unless the
    repository has one.

    Returns:
        The commit URL.

    Raises:
        PublishError: No token, or the upload failed (no network, no permission).
    """
    from timm.models import push_to_hf_hub

    token = hub_token(token)
    model_config = {'label_names': pair.label_names} if pair.label_names else None
    release_pretrained_cfg(pair.timm_model)
    try:
        commit = push_to_hf_hub(pair.timm_model, repo_id, token=token, private=private, model_config=model_config,
                                model_card=model_card, model_args=pair.spec.model_args, safe_serialization=True,
                                data_config=pair.data_config)
    except Exception as e:  # noqa: BLE001 - network, auth and Hub errors all end the push the same way
        later = f'; upload it later with `huggingface-cli upload {repo_id} {timm_dir}`' if timm_dir else ''
        raise PublishError(f'pushing to the Hugging Face Hub ({repo_id}) failed: {type(e).__name__}: {e}. '
                           f'The release folder is complete{later}') from e
    return str(getattr(commit, 'commit_url', commit))


def publish(
        checkpoint: PathLike,
        config: PathLike,
        out_dir: PathLike,
        name: Optional[str] = None,
        work_dir: Optional[PathLike] = None,
        dataset: Optional[str] = None,
        cfg_options: Optional[Mapping[str, Any]] = None,
        use_ema: bool = True,
        input_size: Optional[tuple[int, int]] = None,
        repo_id: Optional[str] = None,
        push: bool = False,
        token: Optional[str] = None,
        private: bool = False,
        date: Optional[str] = None,
) -> Release:
    """Write a release of an mmpretrain training checkpoint (see the module docstring).

    Args:
        checkpoint: The mmengine checkpoint (``epoch_N.pth``, with optimizer and message hub).
        config: Its training config.
        out_dir: The release folder (created; files of the same name are replaced).
        name: Model name and file stem; default the config's stem.
        work_dir: Where the run logged (default: the checkpoint's folder).
        dataset: Training data set name for the card and metafile; default from the config.
        cfg_options: Config overrides, as the training's ``--cfg-options``.
        use_ema: With an EMA run, publish the averaged weights (mmpretrain's default).
        input_size: ``(h, w)`` when the test pipeline gives none.
        repo_id: Hugging Face Hub repository (``user/name``) for the card and ``push``.
        push: Upload the timm folder with timm's ``push_to_hf_hub``.
        token: Hub token (default: the logged-in one, or ``HF_TOKEN``).
        private: Create the Hub repository private.
        date: ``YYYYMMDD`` in the checkpoint's name; default today.

    Returns:
        The :class:`Release`.

    Raises:
        ArchitectureMismatchError: The checkpoint is not of the config's architecture.
        ConversionError: The model has no timm equivalent (e.g. ``stem='cifar'``).
        PublishError: ``push`` without a token or network.
    """
    if push and not repo_id:
        raise PublishError('--push needs --repo-id user/name')
    if push:
        token = hub_token(token)  # fail before the work, not after it
    config = Path(config)
    name = name or config.stem
    root = Path(out_dir)  # created when the first file is written: a refused model leaves nothing

    ckpt = read_checkpoint(checkpoint)
    pair = pair_from_mm(config, ckpt, cfg_options, use_ema, input_size, checkpoint_name=Path(checkpoint).name)
    dropped: list[str] = []
    pair.meta = sanitize_meta(pair.meta, 'meta', dropped)
    if dropped:
        _logger.warning('publish: left out of meta (not plain data): %s', ', '.join(dropped))
    pair.meta.setdefault('dataset_meta', dict(getattr(pair.mm_model, '_dataset_meta', None) or {}))
    cfg = pair.mm_model._config

    config_path, ckpt_path = write_mm_files(pair, root, name, date)
    metrics, source = read_metrics(work_dir if work_dir is not None else Path(checkpoint).parent,
                                   pair.meta.get('experiment_name'))
    if not metrics:
        warnings.warn(f'no accuracy in the logs of {work_dir or Path(checkpoint).parent}: the card and metafile '
                      'have no results (pass --work-dir)')
    params = sum(p.numel() for p in pair.timm_model.parameters())
    macs, flops = count_model_flops(pair.timm_model, pair.data_config['input_size'])
    dataset = dataset or dataset_name(cfg)
    top1 = metrics.get('accuracy/top1')
    card_metrics = {'Top 1 Accuracy': top1} if top1 is not None else {}
    source_text = os.path.relpath(source, Path(checkpoint).parent) if source else None
    card = build_model_card(pair, dataset=dataset, metrics=card_metrics, metrics_source=source_text,
                            params=params, macs=macs, flops=flops, repo_id=repo_id,
                            mm_config=config_path.name, mm_checkpoint=ckpt_path.name, trained_with=config.stem)
    timm_dir = write_timm_folder(pair, root / TIMM_FOLDER, card,
                                 model_name=repo_id.split('/')[-1] if repo_id else name)
    extra = {'Epochs': int(pair.meta['epoch'])} if isinstance(pair.meta.get('epoch'), int) else None
    entry = metafile_entry(name, _collection(pair)['Name'], ckpt_path.name, config_path.name, dataset, top1,
                           params, macs, extra)
    metafile = write_metafile(root / 'metafile.yml', entry, _collection(pair))

    release = Release(root, name, ckpt_path, config_path, metafile, timm_dir, metrics, source, params, macs, flops,
                      pair.max_abs_diff)
    if push:
        release.hub_url = push_release(pair, repo_id, card, token, private, timm_dir)
    return release
