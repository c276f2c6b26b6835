"""The authors' published file -> a release of our model (``tools/convert_published.py``).

:func:`convert_published` reads the authors' file as downloaded
(:func:`convattn_plugin.checkpoint.load_weights`: ``weights_only=True``, the hash a name
carries, no compressed member, no NaN / inf), converts it with the tag's key rules
(:mod:`convattn_plugin.models.published_weights`), checks it key by key against the tag's timm
model, loads it strictly into the mmpretrain model of ``configs/published/<name>.py`` (same
logits as the timm model) and writes the release with :func:`~.publish.write_release`, the one
writer of releases: the card, ``config.json`` and the metafile say from the start where the
weights come from, under which licence, and what the authors report (nothing is measured
here). Needs the ``mm`` extra.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

import timm

from ..checkpoint import load_weights
from ..mm.hub import configs_root
from ..models.published_weights import PUBLISHED, PublishedWeights, check_converted, get_published, unwrap_checkpoint
from ..models.published_weights.timm_cfgs import add_bn_counters
from .convert import build_mm_model, check_same_logits, pair_from_mm_model
from .key_mapping import spec_from_mm_model, timm_to_mm_state_dict
from .publish import Release, ReleaseFacts, write_release
from .staging import check_out_dir, check_release_name

__all__ = ['config_name', 'config_path', 'convert_published', 'mm_published_tags']

PathLike = Union[str, os.PathLike]
#: Input size of the check of the mmpretrain model against the tag's timm model.
LOGITS_INPUT = (3, 64, 64)
#: ``pretrained_cfg`` fields of the tag that the release's ``config.json`` carries.
ORIGIN_FIELDS = ('license', 'origin_url', 'paper_name', 'description')


def config_name(entry: PublishedWeights) -> str:
    """``resnet50_cbam.jongchan_in1k`` -> ``resnet50-cbam_jongchan_in1k`` (mmpretrain's ``{model}_{data}``)."""
    source = entry.tag[:-len('_in1k')] if entry.tag.endswith('_in1k') else entry.tag
    return f"{entry.model.replace('_', '-')}_{source.replace('_', '-')}_in1k"


#: The backbones of the tags with an mmpretrain config: those ``ConvAttnResNet`` builds by ``depth``. The
#: ResNeXt-50 (``resnext50_32x4d_simam``) and MobileNetV2 tags load in timm only.
MM_ARCHS = tuple(f'resnet{depth}' for depth in (18, 34, 50, 101, 152))


def mm_published_tags() -> list[str]:
    """The tags whose architecture an mmpretrain backbone of this package builds (``resnet{depth}_{kind}``)."""
    return sorted(e.name for e in PUBLISHED.values() if e.model.rsplit('_', 1)[0] in MM_ARCHS)


def config_path(entry: PublishedWeights) -> Path:
    """``configs/published/<config_name>.py`` of the checkout or the installed package."""
    root = configs_root()
    if root is None:
        raise FileNotFoundError('no configs/ folder found (set CONVATTN_CONFIGS to the project\'s configs/)')
    return root / 'published' / f'{config_name(entry)}.py'


def _facts(entry: PublishedWeights, authors_name: str, config: Path) -> ReleaseFacts:
    results = {k: v for k, v in (('Top 1 Accuracy', entry.top1), ('Top 5 Accuracy', entry.top5)) if v is not None}
    source = f'reported in {entry.reported_in}; not measured here'
    weights = f'{entry.download_url} ({authors_name}, licence {entry.license})'
    origin = (f"converted unchanged from the authors' {authors_name} ({entry.download_url}, licence: "
              f'{entry.license}). {entry.reported}.')
    return ReleaseFacts(
        dataset='ImageNet-1k', results=results, results_source=source if results else None,
        metrics={k: v for k, v in (('accuracy/top1', entry.top1), ('accuracy/top5', entry.top5)) if v is not None},
        trained_with=config.stem, metadata={'Results Source': source, 'Weights Source': weights},
        card_details={'Original': f"{entry.paper}, the authors' weights ({entry.repo_url})",
                      'Origin of the weights': origin},
        description=(f'`{entry.model}` with the ImageNet-1k weights the authors of "{entry.paper}" published, '
                     'converted unchanged (convattn_plugin). The same weights load in timm and in mmpretrain and '
                     'give the same logits.'))


def convert_published(name: str, authors_file: PathLike, out_dir: PathLike, config: Optional[PathLike] = None,
                      overwrite: bool = False, date: Optional[str] = None, verify: bool = True) -> Release:
    """Turn the authors' published file into a release of our model.

    Args:
        name: The tag, ``'resnet50_cbam.jongchan_in1k'`` (see ``list_published()``).
        authors_file: Their file, as downloaded.
        out_dir: The release folder; checked before any work, written whole or not at all.
        config: The mmpretrain config (default ``configs/published/<name>.py``).
        overwrite: Replace an existing release in ``out_dir``.
        date: ``YYYYMMDD`` in the checkpoint's name; default today.
        verify: Load the staged release back every documented way before moving it into place.

    Returns:
        The :class:`~.publish.Release` (its ``metrics`` are the authors' reported figures).

    Raises:
        ArchitectureMismatchError: The file is not the tag's architecture, or the config does not
            build it (every key listed).
        FileExistsError: ``out_dir`` holds a release and ``overwrite`` is False.
        ValueError: ``out_dir`` is a symlink or a file; the file is refused by
            :func:`~convattn_plugin.checkpoint.load_weights` (hash, compressed member, NaN / inf).
    """
    entry = get_published(name)
    stem = check_release_name(config_name(entry))
    out = check_out_dir(out_dir, overwrite)  # before the work, not after it
    config = Path(config) if config is not None else config_path(entry)
    if not config.is_file():
        raise FileNotFoundError(
            f'no mmpretrain config for {name}: {config} does not exist. configs/published/ has one for each tag '
            f'whose family has an mmpretrain backbone (ConvAttnResNet: {", ".join(sorted(mm_published_tags()))}); '
            f'the other tags load in timm only (timm.create_model({name!r}, pretrained=True, ...)), or pass config=')
    authors_name = Path(authors_file).name

    timm_model = timm.create_model(entry.name).eval()
    state_dict = add_bn_counters(timm_model, entry.convert(unwrap_checkpoint(load_weights(authors_file))))
    check_converted(entry, timm_model, state_dict)
    timm_model.load_state_dict(state_dict, strict=True)

    mm_model = build_mm_model(config).eval()
    mm_state = timm_to_mm_state_dict(state_dict, spec_from_mm_model(mm_model))
    meta = {'source': entry.name, 'authors_file': authors_name, 'dataset_meta': {}}
    pair = pair_from_mm_model(mm_model, mm_state, meta, authors_name, f'the model of {config.stem}')
    check_same_logits(pair.mm_model, timm_model, LOGITS_INPUT)
    cfg = timm_model.pretrained_cfg  # the tag's (published_cfg), as timm built it
    pair.timm_model.pretrained_cfg = dict(pair.timm_model.pretrained_cfg, **{k: cfg.get(k) for k in ORIGIN_FIELDS})
    return write_release(pair, out, stem, _facts(entry, authors_name, config), date, verify)
