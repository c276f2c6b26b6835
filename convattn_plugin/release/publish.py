"""Publish an mmpretrain training run for timm and mmpretrain users at once.

:func:`publish` turns an mmengine training checkpoint and its config into a release
folder::

    <out>/
      <name>_<YYYYMMDD>-<sha8>.pth   mmpretrain checkpoint: state_dict + meta only, named with
                                     its sha256 as mmpretrain's publish tool names it;
                                     torch.load(weights_only=True) reads it, no allow-list
      <name>.json                    the training config, flattened, as JSON data: loading a
                                     release never executes code from it
      metafile.yml                   mmpretrain model-index entry (register_release)
      manifest.json                  the sha256 of every file above and below
      timm/                          the Hugging Face Hub repository (timm and transformers read it):
        config.json                  architecture, num_classes, label_names, model_args,
                                     pretrained_cfg (mean, std, input size, interpolation, crop)
        model.safetensors
        README.md                    model card: task, data set, metrics from the run's logs,
                                     params, MACs/FLOPs, how to load it in timm and mmpretrain

Before writing, the weights are loaded strictly into both models and their logits compared
(atol 1e-5). The release is written into a temporary folder beside ``<out>``, verified there
(:func:`convattn_plugin.release.verify_release` re-reads the files through timm's and
mmpretrain's own loaders) and only then moved into place, so a kill or a full disk never
leaves a half release. An existing ``<out>`` is replaced only with ``overwrite=True``.
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Union

from .checkpoint_io import read_checkpoint, sanitize_meta
from .convert import pair_from_mm, write_mm_files, write_timm_folder
from .hub_push import PublishError, hub_token, push_release
from .load import TIMM_FOLDER, verify_release
from .metafile import metafile_entry, write_metafile
from .model_card import build_model_card
from .release_files import make_ordinary, write_manifest
from .run_info import collection_of, count_model_flops, dataset_name, read_metrics

__all__ = ['Release', 'PublishError', 'publish', 'check_release_name', 'check_out_dir']

_logger = logging.getLogger(__name__)
PathLike = Union[str, os.PathLike]
_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]*$')


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
        verified: Max logit difference of each way of loading the written release against timm's
            ``local-dir:`` (:func:`~.load.verify_release`); empty with ``verify=False``.
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
    verified: dict[str, float] = field(default_factory=dict)


def check_release_name(name: str) -> str:
    """A model name is also a file stem: letters, digits, ``.``, ``_``, ``-``; no path, no ``..``."""
    if not isinstance(name, str) or not _NAME.match(name) or '..' in name:
        raise ValueError(f'--name {name!r}: a model name is a file stem inside the release folder: letters, '
                         'digits, ".", "_" and "-", starting with a letter or digit (no "/", no "..")')
    return name


def check_out_dir(out_dir: PathLike, overwrite: bool) -> Path:
    """The release folder to write: refused if it is a symlink, or exists without ``overwrite``."""
    out = Path(out_dir)
    if out.is_symlink():
        raise ValueError(f'out_dir {str(out)!r} is a symlink (to {os.readlink(out)}); a release is written to a '
                         'real folder only, never through a link')
    if out.exists() and not out.is_dir():
        raise ValueError(f'out_dir {str(out)!r} exists and is not a folder')
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f'out_dir {str(out)!r} already holds a release (or other files); pass --overwrite '
                              '(overwrite=True) to replace it, or choose another folder')
    return out


def _move_into_place(staged: Path, out: Path) -> None:
    """Replace ``out`` by ``staged`` with renames only (both lie in the same folder)."""
    if not out.exists():
        os.replace(staged, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f'.{out.name}.old-', dir=out.parent))
    os.replace(out, old / out.name)
    try:
        os.replace(staged, out)
    except OSError:
        os.replace(old / out.name, out)  # put the previous release back
        raise
    shutil.rmtree(old)


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
        overwrite: bool = False,
        verify: bool = True,
) -> Release:
    """Write a release of an mmpretrain training checkpoint (see the module docstring).

    Args:
        checkpoint: The mmengine checkpoint (``epoch_N.pth``, with optimizer and message hub).
        config: Its training config.
        out_dir: The release folder; written whole, or not at all.
        name: Model name and file stem; default the config's stem.
        work_dir: Where the run logged (default: the checkpoint's folder).
        dataset: Training data set name for the card and metafile; default from the config.
        cfg_options: Config overrides, as the training's ``--cfg-options``.
        use_ema: With an EMA run, publish the averaged weights (mmpretrain's default).
        input_size: ``(h, w)`` when the test pipeline gives none.
        repo_id: Hugging Face Hub repository (``user/name``) for the card and ``push``.
        push: Upload the timm folder, as verified, to the Hub (``repo_id``).
        token: Hub token (default: the logged-in one, or ``HF_TOKEN``).
        private: Create the Hub repository private.
        date: ``YYYYMMDD`` in the checkpoint's name; default today.
        overwrite: Replace an existing release in ``out_dir`` (else it is an error).
        verify: Load the written release back every documented way before moving it into place.

    Returns:
        The :class:`Release`.

    Raises:
        ArchitectureMismatchError: The checkpoint is not of the config's architecture.
        ConversionError: The model has no timm equivalent (e.g. ``stem='cifar'``).
        PublishError: ``push`` without a token or network.
        FileExistsError: ``out_dir`` holds a release and ``overwrite`` is False.
        ValueError: A ``name`` that is not a plain file stem, ``out_dir`` a symlink, or
            NaN / inf weights (:class:`~convattn_plugin.checkpoint.NonFiniteWeightsError`).
    """
    if push and not repo_id:
        raise PublishError('--push needs --repo-id user/name')
    if push:
        token = hub_token(token)  # fail before the work, not after it
    config = Path(config)
    name = check_release_name(name or config.stem)
    out = check_out_dir(out_dir, overwrite)  # fail before the work, not after it

    ckpt = read_checkpoint(checkpoint)
    pair = pair_from_mm(config, ckpt, cfg_options, use_ema, input_size, checkpoint_name=Path(checkpoint).name)
    dropped: list[str] = []
    pair.meta = sanitize_meta(pair.meta, 'meta', dropped)
    if dropped:
        _logger.warning('publish: left out of meta (not plain data): %s', ', '.join(dropped))
    pair.meta.setdefault('dataset_meta', dict(getattr(pair.mm_model, '_dataset_meta', None) or {}))
    cfg = pair.mm_model._config
    run_dir = Path(work_dir) if work_dir is not None else Path(checkpoint).parent
    metrics, source = read_metrics(run_dir, pair.meta.get('experiment_name'))
    if not metrics:
        warnings.warn(f'no accuracy in the logs of {run_dir}: the card and metafile have no results (pass --work-dir)')
    params = sum(p.numel() for p in pair.timm_model.parameters())
    macs, flops = count_model_flops(pair.timm_model, pair.data_config['input_size'])
    dataset = dataset or dataset_name(cfg)
    top1 = metrics.get('accuracy/top1')
    collection = collection_of(pair)
    extra = {'Epochs': int(pair.meta['epoch'])} if isinstance(pair.meta.get('epoch'), int) else None

    out.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=f'.{out.name}.tmp-', dir=out.parent))
    make_ordinary(staged)  # mkdtemp makes it private (0700)
    try:
        config_path, ckpt_path = write_mm_files(pair, staged, name, date)
        card = build_model_card(pair, dataset=dataset, metrics={'Top 1 Accuracy': top1} if top1 is not None else {},
                                metrics_source=os.path.relpath(source, run_dir) if source else None,
                                params=params, macs=macs, flops=flops, repo_id=repo_id, mm_config=config_path.name,
                                mm_checkpoint=ckpt_path.name, trained_with=config.stem)
        timm_dir = write_timm_folder(pair, staged / TIMM_FOLDER, card,
                                     model_name=repo_id.split('/')[-1] if repo_id else name)
        entry = metafile_entry(name, collection['Name'], ckpt_path.name, config_path.name, dataset, top1,
                               params, macs, extra)
        metafile = write_metafile(staged / 'metafile.yml', entry, collection)
        write_manifest(staged, [config_path, ckpt_path, metafile, *sorted(timm_dir.iterdir())])
        verified = verify_release(staged) if verify else {}
        _move_into_place(staged, out)
    finally:
        if staged.exists():
            shutil.rmtree(staged)

    release = Release(out, name, out / ckpt_path.name, out / config_path.name, out / 'metafile.yml',
                      out / TIMM_FOLDER, metrics, source, params, macs, flops, pair.max_abs_diff, verified=verified)
    if push:
        release.hub_url = push_release(release.timm_dir, repo_id, token, private)
    return release
