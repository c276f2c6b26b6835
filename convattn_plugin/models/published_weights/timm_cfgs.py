"""The published weights as timm pretrained tags: cfgs, fixed model arguments, the filter.

* :func:`published_cfgs`: the pretrained cfg of every tag (``url`` / ``hf_hub_id`` empty,
  ``file`` the authors' file name, looked up in the working directory unless
  ``pretrained_cfg_overlay=dict(file=...)`` says where it is; a tag whose file has a direct,
  stable URL sets ``url`` instead, and timm downloads it; a file on the Hugging Face hub sets
  ``hf_hub_id``, and timm fetches it through the hub's cache as it does its own weights); the
  family registers them with its models, so ``timm.list_pretrained('*cbam*')`` lists them.
* :func:`published_model_kwargs`: called by the family for every build: a published tag
  fixes the model arguments of the authors' architecture, adds :func:`published_filter_fn`,
  and, with ``pretrained=True``, checks the file before timm reads it as every loader of the
  package checks one (:func:`convattn_plugin.checkpoint.check_weights_file`: it exists and is
  not empty, the sha256 prefix its name may carry matches, a torch archive has no compressed
  member; a file already in the hub's cache must also match the sha256 its blob is named by),
  or fails clearly when it is not there.
* :func:`published_filter_fn`: timm's ``pretrained_filter_fn``. timm 1.0.31 reads the file
  with ``torch.load(weights_only=True)`` (``timm.models.load_state_dict``), takes
  ``state_dict`` out of the wrapper and strips ``module.``; the filter refuses NaN / inf
  weights (:func:`convattn_plugin.checkpoint.check_finite`), converts the authors' keys and
  refuses a file of another architecture or depth, listing every key.
"""
from __future__ import annotations

import copy
import os
import re
from typing import Any, Mapping, Optional
from urllib.parse import urlparse

import torch
import torch.nn as nn
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

from ...checkpoint import HashMismatchError, check_finite, check_weights_file, sha256_of
from ..pretrained import ArchitectureMismatchError, diff_state_dict
from .registry import PUBLISHED, PublishedWeights, StateDict

__all__ = ['add_bn_counters', 'check_converted', 'check_hub_cached_file', 'published_cfg', 'published_cfgs',
           'published_filter_fn', 'published_model_kwargs']


def published_cfg(entry: PublishedWeights, backbone_arxiv: str,
                  family_cfg: Optional[Mapping[str, Any]] = None) -> dict[str, Any]:
    """The timm pretrained cfg of one tag.

    Args:
        backbone_arxiv: arXiv id of the backbone's paper, the first of ``paper_ids``.
        family_cfg: The family's cfg entries (``first_conv``, ``classifier``:
            :attr:`~convattn_plugin.models.family.ModelFamily.cfg`); the tag's own ``cfg`` wins.
    """
    return {
        'url': '', 'hf_hub_id': None, 'file': entry.file_name,
        'num_classes': 1000, 'input_size': (3, 224, 224), 'pool_size': (7, 7),
        'crop_pct': 0.875, 'interpolation': 'bilinear',
        'mean': IMAGENET_DEFAULT_MEAN, 'std': IMAGENET_DEFAULT_STD,
        **(family_cfg or {}),
        'license': entry.license, 'origin_url': entry.repo_url, 'paper_name': entry.paper,
        'paper_ids': tuple(f'arXiv:{p}' for p in (backbone_arxiv, entry.arxiv) if p),
        'description': f"{entry.model} with the authors' weights: {entry.reported}",
        'notes': (_how_to_load(entry), *entry.notes),
        **entry.cfg,
    }


def _how_to_load(entry: PublishedWeights) -> str:
    own_file = f"timm.create_model('{entry.name}', pretrained=True, pretrained_cfg_overlay=dict(file=PATH))"
    if entry.cfg.get('hf_hub_id'):  # timm's own path: the Hugging Face hub cache (HF_HOME, HF_HUB_OFFLINE)
        return (f"pretrained=True fetches {entry.published_as} from {entry.download_url} as timm fetches its own "
                f'weights (Hugging Face hub cache); a copy you downloaded: {own_file}')
    if entry.cfg.get('url'):  # a direct URL: timm downloads it into torch's hub cache
        return (f'pretrained=True downloads {entry.published_as} from {entry.download_url} (torch hub cache); '
                f'a copy you downloaded: {own_file}')
    return f'download {entry.published_as} from {entry.download_url}, then {own_file}'


def published_cfgs(names: Mapping[str, str], family_cfg: Optional[Mapping[str, Any]] = None
                   ) -> dict[str, dict[str, Any]]:
    """``{'model.tag': cfg}`` of the published tags of the given model names (of one family).

    Args:
        names: Model name -> arXiv id of its backbone's paper, the first of ``paper_ids``
            (:meth:`~convattn_plugin.models.family.ModelFamily.backbone_paper`).
        family_cfg: The family's cfg entries, as :func:`published_cfg`.
    """
    return {e.name: published_cfg(e, names[e.model], family_cfg) for e in PUBLISHED.values() if e.model in names}


def _requested_tag(variant: str, pretrained_cfg: Any) -> Optional[str]:
    """The tag ``create_model`` asked for: ``name.tag`` arrives as ``pretrained_cfg='tag'``."""
    if isinstance(pretrained_cfg, str):
        return pretrained_cfg
    cfg = pretrained_cfg.to_dict() if hasattr(pretrained_cfg, 'to_dict') else pretrained_cfg
    if isinstance(cfg, Mapping) and cfg.get('architecture') in (None, variant):
        return cfg.get('tag')
    return None


_SHA256_BLOB = re.compile(r'[0-9a-f]{64}')


def check_hub_cached_file(hub_id: str, filename: str, cache_dir: Any = None) -> Optional[str]:
    """The file timm will read from the Hugging Face hub cache, checked, or ``None`` if it is not cached.

    The cache keeps a large file as ``blobs/<sha256 of its content>`` (the hub's LFS id) with the
    snapshot's name a link to it: that name is the hash the file must have.

    Raises:
        HashMismatchError: The cached content is not the blob its name says.
        ValueError: An empty file or a compressed torch archive (:func:`check_weights_file`).
    """
    from huggingface_hub import try_to_load_from_cache

    repo_id, _, revision = hub_id.partition('@')
    cached = try_to_load_from_cache(repo_id, filename, cache_dir=cache_dir, revision=revision or None)
    if not isinstance(cached, str):  # None, or the cache's note that the file does not exist
        return None
    check_weights_file(cached)
    blob = os.path.basename(os.path.realpath(cached))
    if _SHA256_BLOB.fullmatch(blob):
        actual = sha256_of(cached)
        if actual != blob:
            raise HashMismatchError(
                f'{cached}: the hub cache names this file by its sha256 {blob}, but its content hashes to '
                f'{actual}; the cached copy is damaged: delete {os.path.realpath(cached)} and fetch it again')
    return cached


def _hub_source(entry: PublishedWeights) -> Optional[str]:
    """The tag's hub id if timm will fetch it from the hub (huggingface_hub installed), else ``None``."""
    from timm.models._hub import has_hf_hub

    hub_id = entry.cfg.get('hf_hub_id')
    return hub_id if hub_id and has_hf_hub(necessary=False) else None


def _check_file(entry: PublishedWeights, kwargs: Mapping[str, Any]) -> None:
    overlay = kwargs.get('pretrained_cfg_overlay') or {}
    if overlay.get('url') or overlay.get('hf_hub_id') or overlay.get('state_dict') is not None:
        return
    hub_id = _hub_source(entry)
    if hub_id and not overlay.get('file'):  # timm fetches it; a copy already in the hub cache is checked first
        check_hub_cached_file(hub_id, entry.file_name, kwargs.get('cache_dir'))
        return
    url = entry.cfg.get('url')
    if url and not overlay.get('file'):  # timm downloads it; a copy already in the cache is checked first
        # torch.hub's load_state_dict_from_url, as timm calls it (model_dir=cache_dir)
        folder = kwargs.get('cache_dir') or os.path.join(torch.hub.get_dir(), 'checkpoints')
        cached = os.path.join(folder, os.path.basename(urlparse(url).path))
        if os.path.isfile(cached):
            check_weights_file(cached)
        return
    path = overlay.get('file') or entry.file_name
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{entry.name}: no weights file at {str(path)!r}. The authors publish {entry.published_as} at "
            f"{entry.download_url} ({entry.repo_url}); download it and pass its path: "
            f"timm.create_model('{entry.name}', pretrained=True, pretrained_cfg_overlay=dict(file=PATH)). "
            'The file is loaded as downloaded (torch.load with weights_only=True).')
    check_weights_file(path)


def published_model_kwargs(variant: str, pretrained: bool, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """``kwargs`` with the fixed model arguments of a published tag (unchanged for other tags).

    Raises:
        ValueError: A user argument that conflicts with the authors' architecture; an empty file,
            a compressed torch archive, or a name whose sha256 prefix the content does not match
            (:class:`~convattn_plugin.checkpoint.HashMismatchError`).
        FileNotFoundError: ``pretrained=True`` and no file where the cfg points.
    """
    tag = _requested_tag(variant, kwargs.get('pretrained_cfg'))
    entry = PUBLISHED.get(f'{variant}.{tag}') if tag else None
    if entry is None:
        return dict(kwargs)
    out = dict(kwargs)
    for key, value in entry.model_args.items():
        if key in out and out[key] != value:
            raise ValueError(
                f"{entry.name}: {key}={out[key]!r} conflicts with the authors' architecture this tag builds "
                f'({key}={value!r}); leave it out, or use {variant!r} without the tag for other options')
        out[key] = copy.deepcopy(value)
    out.setdefault('pretrained_filter_fn', published_filter_fn)
    if pretrained:
        _check_file(entry, out)
    return out


def add_bn_counters(model: nn.Module, state_dict: StateDict) -> StateDict:
    """``state_dict`` with the ``num_batches_tracked`` counters it lacks (files of PyTorch < 0.4.1 have none).

    The counter only matters for BN layers with ``momentum=None``; torch's own loading fills it
    the same way for such files.
    """
    missing = [k for k in model.state_dict() if k.endswith('.num_batches_tracked') and k not in state_dict]
    return {**state_dict, **{k: torch.tensor(0, dtype=torch.long) for k in missing}}


def check_converted(entry: PublishedWeights, model: nn.Module, state_dict: StateDict,
                    skip_classifier: bool = False) -> None:
    """Raise :class:`~convattn_plugin.models.ArchitectureMismatchError`, listing every key, unless
    ``state_dict`` fits ``model``.

    Args:
        skip_classifier: Allow another shape for the classifier (a model with other ``num_classes``):
            the keys under the model's ``pretrained_cfg['classifier']`` (``fc`` of a ResNet,
            ``classifier`` of a MobileNetV2).
    """
    report = diff_state_dict(model.state_dict(), state_dict)
    classifier = f"{getattr(model, 'pretrained_cfg', {}).get('classifier') or 'fc'}."
    mismatched = [k for k in report.mismatched_keys if not (skip_classifier and k.startswith(classifier))]
    if report.missing_keys or report.unexpected_keys or mismatched:
        own, theirs = model.state_dict(), state_dict
        lines = [f'  missing (model has, file lacks): {k}' for k in report.missing_keys]
        lines += [f'  unexpected (file has, model lacks): {k}' for k in report.unexpected_keys]
        lines += [f'  shape: {k}: model {tuple(own[k].shape)}, file {tuple(theirs[k].shape)}' for k in mismatched]
        raise ArchitectureMismatchError(
            f"{entry.name}: the file is not the authors' {entry.model} this tag loads (another depth or "
            f'architecture?): {len(report.missing_keys)} missing, {len(report.unexpected_keys)} unexpected, '
            f'{len(mismatched)} with another shape (keys after conversion):\n' + '\n'.join(lines), report)


def published_filter_fn(state_dict: StateDict, model: nn.Module) -> StateDict:
    """timm ``pretrained_filter_fn``: the authors' state dict -> ours, checked key by key."""
    cfg = getattr(model, 'pretrained_cfg', None) or {}
    name = f"{cfg.get('architecture')}.{cfg.get('tag')}"
    entry = PUBLISHED.get(name)
    if entry is None:
        raise ValueError(f'{name}: not a tag with published weights; known: {", ".join(sorted(PUBLISHED))}')
    check_finite(state_dict, f"{name}: the authors' file")
    converted = add_bn_counters(model, entry.convert(state_dict))
    num_classes = getattr(model, 'num_classes', 1000)
    check_converted(entry, model, converted, skip_classifier=num_classes != cfg.get('num_classes', 1000))
    return {k: v.to(torch.get_default_dtype()) if v.is_floating_point() else v for k, v in converted.items()}
