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
(atol 1e-5). :func:`write_release` writes those files for any :class:`~.model_pair.ModelPair`
(a training run here, the authors' weights in :mod:`.published`) through the one writer of
:mod:`.staging`: into a temporary folder beside ``<out>``, verified there
(:func:`convattn_plugin.release.verify_release` re-reads the files through timm's and
mmpretrain's own loaders) and only then moved into place with renames, so a kill or a full disk
never leaves a half release. An existing ``<out>`` is replaced only with ``overwrite=True``.
"""
from __future__ import annotations

import logging
import os
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
from .model_pair import ModelPair
from .release_files import write_manifest
from .run_info import collection_of, count_model_flops, dataset_name, read_metrics
from .staging import check_out_dir, check_release_name, staged_folder

__all__ = ['Release', 'ReleaseFacts', 'PublishError', 'publish', 'write_release', 'check_release_name',
           'check_out_dir']

_logger = logging.getLogger(__name__)
PathLike = Union[str, os.PathLike]


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


@dataclass
class ReleaseFacts:
    """What a release says besides its weights: card, metafile and :class:`Release` fields.

    Attributes:
        dataset: Training data set name (card, metafile ``Training Data`` and ``Results``).
        results: ``{'Top 1 Accuracy': 97.5, ...}`` (percent) for the card and the metafile.
        results_source: Where the results come from, shown with them in the card.
        metrics: :attr:`Release.metrics` (as logged: ``{'accuracy/top1': ...}``).
        metrics_source: :attr:`Release.metrics_source`.
        trained_with: The config's name for the card.
        repo_id: Hugging Face Hub repository for the card.
        metadata: More metafile ``Metadata`` fields (``Epochs``, ``Weights Source``, ...).
        card_details: Card "Model Details" entries added or replaced.
        description: The card's description, instead of the one of a training run.
    """
    dataset: Optional[str] = None
    results: dict[str, float] = field(default_factory=dict)
    results_source: Optional[str] = None
    metrics: dict[str, float] = field(default_factory=dict)
    metrics_source: Optional[Path] = None
    trained_with: Optional[str] = None
    repo_id: Optional[str] = None
    metadata: dict[str, Any] = field(default_factory=dict)
    card_details: dict[str, Any] = field(default_factory=dict)
    description: Optional[str] = None


def write_release(pair: ModelPair, out: Path, name: str, facts: ReleaseFacts, date: Optional[str] = None,
                  verify: bool = True) -> Release:
    """Write the release of ``pair`` into ``out`` whole, or not at all (:mod:`.staging`).

    Args:
        pair: The weights in both frameworks (logits already compared).
        out: The release folder, from :func:`check_out_dir` (checked before the caller's work).
        name: Model name and file stem, from :func:`check_release_name`.
        facts: What the card and the metafile say.
        date: ``YYYYMMDD`` in the checkpoint's name; default today.
        verify: Load the staged release back every documented way before moving it into place.
    """
    params = sum(p.numel() for p in pair.timm_model.parameters())
    macs, flops = count_model_flops(pair.timm_model, pair.data_config['input_size'])
    collection = collection_of(pair)
    top1 = facts.results.get('Top 1 Accuracy')
    with staged_folder(out) as staged:
        config_path, ckpt_path = write_mm_files(pair, staged, name, date)
        card = build_model_card(pair, dataset=facts.dataset, metrics=facts.results,
                                metrics_source=facts.results_source, params=params, macs=macs, flops=flops,
                                repo_id=facts.repo_id, mm_config=config_path.name, mm_checkpoint=ckpt_path.name,
                                trained_with=facts.trained_with)
        card['details'].update(facts.card_details)
        if facts.description:
            card['description'] = facts.description
        timm_dir = write_timm_folder(pair, staged / TIMM_FOLDER, card,
                                     model_name=facts.repo_id.split('/')[-1] if facts.repo_id else name)
        entry = metafile_entry(name, collection['Name'], ckpt_path.name, config_path.name, facts.dataset, top1,
                               params, macs, facts.metadata or None)
        if entry['Results']:  # metafile_entry writes top-1; the other results beside it
            entry['Results'][0]['Metrics'].update(
                {k: round(float(v), 2) for k, v in facts.results.items() if k != 'Top 1 Accuracy'})
        metafile = write_metafile(staged / 'metafile.yml', entry, collection)
        write_manifest(staged, [config_path, ckpt_path, metafile, *sorted(timm_dir.iterdir())])
        verified = verify_release(staged) if verify else {}
    return Release(out, name, out / ckpt_path.name, out / config_path.name, out / 'metafile.yml', out / TIMM_FOLDER,
                   dict(facts.metrics), facts.metrics_source, params, macs, flops, pair.max_abs_diff,
                   verified=verified)


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
    top1 = metrics.get('accuracy/top1')
    facts = ReleaseFacts(
        dataset=dataset or dataset_name(cfg), results={'Top 1 Accuracy': top1} if top1 is not None else {},
        results_source=os.path.relpath(source, run_dir) if source else None, metrics=metrics, metrics_source=source,
        trained_with=config.stem, repo_id=repo_id,
        metadata={'Epochs': int(pair.meta['epoch'])} if isinstance(pair.meta.get('epoch'), int) else {})
    release = write_release(pair, out, name, facts, date, verify)
    if push:
        release.hub_url = push_release(release.timm_dir, repo_id, token, private)
    return release
