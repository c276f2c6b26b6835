"""The authors' file -> a release: mmpretrain checkpoint (hash in its name) + timm folder + metafile.

:func:`convert_published` reads the file as downloaded (``weights_only=True``), converts it
with the tag's key rules, checks it key by key against the tag's timm model, loads it into
the mmpretrain model of ``configs/published/<name>.py`` (strictly, same logits as the timm
model), and hands the result to :func:`convattn_plugin.release.publish`, the project's one way
to write a release. The metafile's results are then the authors' reported figures (nothing
is measured here), and the release's manifest and checks are renewed before the folder is
moved into place. Needs the ``mm`` extra.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Optional, Union

import timm
import yaml

from ...checkpoint import load_weights
from .key_rules import unwrap_checkpoint
from .registry import PublishedWeights, get_published
from .timm_cfgs import add_bn_counters, check_converted, published_cfg

__all__ = ['config_name', 'config_path', 'convert_published']

PathLike = Union[str, os.PathLike]
LOGITS_INPUT = (3, 64, 64)


def config_name(entry: PublishedWeights) -> str:
    """``resnet50_cbam.jongchan_in1k`` -> ``resnet50-cbam_jongchan_in1k`` (mmpretrain's ``{model}_{data}``)."""
    source = entry.tag[:-len('_in1k')] if entry.tag.endswith('_in1k') else entry.tag
    return f"{entry.model.replace('_', '-')}_{source.replace('_', '-')}_in1k"


def config_path(entry: PublishedWeights) -> Path:
    """``configs/published/<config_name>.py`` of the checkout or the installed package."""
    from ...mm.hub import configs_root
    root = configs_root()
    if root is None:
        raise FileNotFoundError('no configs/ folder found (set CONVATTN_CONFIGS to the project\'s configs/)')
    return root / 'published' / f'{config_name(entry)}.py'


def _reported_results(metafile: Path, entry: PublishedWeights, authors_name: str) -> None:
    doc = yaml.safe_load(metafile.read_text(encoding='utf-8'))
    model = doc['Models'][0]
    metrics = {k: v for k, v in (('Top 1 Accuracy', entry.top1), ('Top 5 Accuracy', entry.top5)) if v is not None}
    model['Results'] = [{'Task': 'Image Classification', 'Dataset': 'ImageNet-1k', 'Metrics': metrics}] if metrics \
        else None
    model['Metadata']['Training Data'] = 'ImageNet-1k'
    model['Metadata']['Results Source'] = f'reported in {entry.reported_in}; not measured here'
    model['Metadata']['Weights Source'] = f'{entry.download_url} ({authors_name}, licence {entry.license})'
    metafile.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding='utf-8')


def _authors_origin(timm_dir: Path, entry: PublishedWeights, authors_name: str) -> None:
    """The timm folder's cfg and card name the authors' licence, paper and reported figures."""
    config_json = timm_dir / 'config.json'
    data = json.loads(config_json.read_text(encoding='utf-8'))
    cfg = published_cfg(entry)
    data['pretrained_cfg'].update({k: cfg[k] for k in ('license', 'origin_url', 'paper_name', 'description')})
    config_json.write_text(json.dumps(data, indent=2) + '\n', encoding='utf-8')
    card = timm_dir / 'README.md'
    card.write_text(card.read_text(encoding='utf-8') + (
        f"\n## Origin of the weights\n\nConverted unchanged from the authors' {authors_name} ({entry.download_url}, "
        f"licence: {entry.license}). {entry.reported}.\n"), encoding='utf-8')


def convert_published(name: str, authors_file: PathLike, out_dir: PathLike, config: Optional[PathLike] = None,
                      overwrite: bool = False, date: Optional[str] = None):
    """Turn the authors' published file into a release of our model.

    Args:
        name: The tag, ``'resnet50_cbam.jongchan_in1k'`` (see ``list_published()``).
        authors_file: Their file, as downloaded.
        out_dir: The release folder; written whole, or not at all.
        config: The mmpretrain config (default ``configs/published/<name>.py``).
        overwrite: Replace an existing release in ``out_dir``.
        date: ``YYYYMMDD`` in the checkpoint's name; default today.

    Returns:
        The :class:`convattn_plugin.release.Release` (its ``metrics`` are the authors' reported figures).

    Raises:
        PublishedWeightsMismatchError: The file is not the tag's architecture (every key listed).
        ArchitectureMismatchError: The config does not build the tag's architecture.
    """
    from ...release import (build_mm_model, check_same_logits, load_state_dict_strict, publish, save_mm_checkpoint,
                            spec_from_mm_model, timm_to_mm_state_dict, verify_release)
    from ...release.release_files import write_manifest

    entry = get_published(name)
    config = Path(config) if config is not None else config_path(entry)
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f'{out} is not empty; pass overwrite=True (--overwrite) to replace it')
    timm_model = timm.create_model(entry.name).eval()
    state_dict = add_bn_counters(timm_model, entry.convert(unwrap_checkpoint(load_weights(authors_file))))
    check_converted(entry, timm_model, state_dict)
    timm_model.load_state_dict(state_dict, strict=True)

    mm_model = build_mm_model(config).eval()
    mm_state = timm_to_mm_state_dict(state_dict, spec_from_mm_model(mm_model))
    load_state_dict_strict(mm_model, mm_state, str(config))
    check_same_logits(mm_model, timm_model, LOGITS_INPUT)

    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f'.{out.name}.tmp-', dir=out.parent))
    try:
        meta = {'source': entry.name, 'authors_file': Path(authors_file).name, 'dataset_meta': {}}
        ckpt = save_mm_checkpoint({'state_dict': mm_state, 'meta': meta}, work / 'converted', config_name(entry),
                                  date)
        with warnings.catch_warnings():  # there is no run log: the results are the authors', set below
            warnings.filterwarnings('ignore', message='no accuracy in the logs')
            release = publish(ckpt, config, work / 'release', name=config_name(entry), work_dir=work / 'converted',
                              dataset='ImageNet-1k', date=date, verify=False)
        _reported_results(release.metafile, entry, Path(authors_file).name)
        _authors_origin(release.timm_dir, entry, Path(authors_file).name)
        files = [p for p in release.root.rglob('*') if p.is_file() and p.name != 'manifest.json']
        write_manifest(release.root, files)
        release.verified = verify_release(release.root)
        if out.exists():
            shutil.rmtree(out)
        os.replace(release.root, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    moved = {f: getattr(release, f) for f in ('checkpoint', 'config', 'metafile', 'timm_dir')}
    for field_name, path in moved.items():
        setattr(release, field_name, out / Path(path).relative_to(release.root))
    release.root = out
    release.metrics = {k: v for k, v in (('accuracy/top1', entry.top1), ('accuracy/top5', entry.top5)) if v}
    return release
